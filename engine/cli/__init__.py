"""The ``kazi`` command line: thin entrypoints over the service layer."""
