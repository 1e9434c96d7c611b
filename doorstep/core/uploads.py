"""Uploads cut off while they arrive. Django writes a file upload past 5 MB to a temporary file
before any view runs; without a cap a 50 GB body would fill the disk, and every view's own size
check would come too late. The first upload handler refuses a body or a file larger than the
sheet reader would ever read (`SHEET_LIMITS["max_file_bytes"]`): it stops the upload (what
arrived is dropped, the rest is not read) and leaves the reason on the request, which the
upload views show on their form (`upload_refusal`)."""

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

from .sheets.reading import refusal_message, sheet_limits

# The multipart envelope around the file (boundaries, headers, the CSRF token and small fields).
ENVELOPE_BYTES = 64 * 1024
# A refused body up to this many times the limit is read to its end and thrown away, so that the
# browser, still sending, gets the page that says why; a larger one is cut off (the connection
# is reset: a browser shows its own error rather than wait for gigabytes to be drained).
DRAIN_FACTOR = 4
REFUSAL_ATTRIBUTE = "doorstep_upload_refused"


class SizeLimitedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = sheet_limits().max_file_bytes
        self.body_length = content_length
        self.received = 0
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0  # the limit is per file; the body's length caps them together
        if self.body_length and self.body_length > self.limit + ENVELOPE_BYTES:
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self._refuse()
        return raw_data

    def file_complete(self, file_size):
        return None

    def _refuse(self):
        if self.request is not None:
            setattr(
                self.request,
                REFUSAL_ATTRIBUTE,
                refusal_message("too_large", {"limit": self.limit}),
            )
        drain = bool(self.body_length) and self.body_length <= self.limit * DRAIN_FACTOR
        raise StopUpload(connection_reset=not drain)


def upload_refusal(request: HttpRequest) -> str:
    """Why the upload of this request was cut off ('' when it was not)."""
    return getattr(request, REFUSAL_ATTRIBUTE, "")


def refuse_cut_off_upload(request: HttpRequest, form) -> bool:
    """Put the reason of a cut-off upload on the form's file field; True when there was one."""
    reason = upload_refusal(request)
    if not reason:
        return False
    form.is_valid()  # the errors exist only once the form was cleaned
    # Fields after the file in the body were never read: their "required" would be false.
    form.errors.clear()
    form.add_error("file", reason)
    return True
