"""Errors the job use cases raise; entrypoints map them to HTTP statuses or CLI messages."""

from __future__ import annotations

from engine.errors import KaziError


class JobError(KaziError):
    status = 400
    code = "job_refused"


class JobNotFound(JobError):
    status = 404
    code = "job_not_found"


class InvalidUpload(JobError):
    status = 422
    code = "invalid_upload"


class UnsupportedUpload(JobError):
    status = 415
    code = "unsupported_media_type"


class UploadTooLarge(JobError):
    status = 413
    code = "upload_too_large"


class SourceNotFound(JobError):
    status = 404
    code = "source_not_found"
