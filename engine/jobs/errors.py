"""Errors the job use cases raise; entrypoints map them to HTTP statuses or CLI messages."""

from __future__ import annotations


class JobError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobNotFound(JobError):
    status_code = 404


class InvalidUpload(JobError):
    status_code = 422


class UnsupportedUpload(JobError):
    status_code = 415


class UploadTooLarge(JobError):
    status_code = 413


class SourceNotFound(JobError):
    status_code = 404
