"""An upload larger than any sheet we read is cut off while it arrives (core/uploads.py): the
handlers after the first, which would hold it in memory or on disk, never get more than the
limit; the page says why; nothing is stored; the server answers the next request."""

import io

import pytest
from django.core.files.uploadhandler import FileUploadHandler
from django.urls import reverse

from doorstep.accounts.models import Role, User
from doorstep.core.sheets.reading import UnreadableFile
from doorstep.imports.models import ImportJob
from doorstep.imports.services import _store_file

LIMIT = 100_000


class CountingHandler(FileUploadHandler):
    """Stands after the size limit: how many bytes reached the handlers that store a file."""

    received = 0

    def receive_data_chunk(self, raw_data, start):
        CountingHandler.received += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture
def small_limit(settings):
    settings.SHEET_LIMITS = {**settings.SHEET_LIMITS, "max_file_bytes": LIMIT}
    settings.FILE_UPLOAD_HANDLERS = [
        "doorstep.core.uploads.SizeLimitedUploadHandler",
        f"{__name__}.CountingHandler",
        *settings.FILE_UPLOAD_HANDLERS[1:],
    ]
    CountingHandler.received = 0
    return settings


def big_file(size: int, name: str = "roster.xlsx") -> io.BytesIO:
    handle = io.BytesIO(b"PK\x03\x04" + b"\x00" * (size - 4))
    handle.name = name
    return handle


# Far past the limit (refused on the declared length, before any byte is kept) and just past it
# (refused on the bytes counted while they arrive).
SIZES = pytest.mark.parametrize("size", [LIMIT * 20, LIMIT + 20_000])


@SIZES
def test_a_roster_past_the_limit_is_cut_off_and_nothing_kept(size, small_limit, client_for, areas):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    response = client.post(reverse("imports:roster_upload"), {"area": "G1", "file": big_file(size)})
    body = response.content.decode()
    assert response.status_code == 413
    assert "errorlist" in body and "文件超过 0.1 MB" in body
    assert CountingHandler.received <= LIMIT
    assert ImportJob.objects.count() == 0
    assert list(small_limit.IMPORT_FILE_DIR.glob("*")) == []
    assert client.get(reverse("home")).status_code == 200


@SIZES
def test_an_account_sheet_past_the_limit_is_cut_off(size, small_limit, client_for, areas):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    before = User.objects.count()
    response = client.post(reverse("accounts:users_import"), {"file": big_file(size)})
    body = response.content.decode()
    assert response.status_code == 413
    assert 'role="alert"' in body and "文件超过 0.1 MB" in body
    assert CountingHandler.received <= LIMIT
    assert User.objects.count() == before


def test_an_upload_within_the_limit_passes_whole(small_limit, client_for, areas):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    response = client.post(
        reverse("imports:roster_upload"), {"area": "G1", "file": big_file(LIMIT - 1000)}
    )
    assert response.status_code == 200  # not a sheet: refused by the reader, not cut off
    assert CountingHandler.received == LIMIT - 1000
    assert "文件超过" not in response.content.decode()


def test_the_command_lines_stream_is_not_copied_past_the_limit(small_limit):
    with pytest.raises(UnreadableFile, match=r"文件超过 0\.1 MB"):
        _store_file(stream=big_file(LIMIT * 3), original_name="roster.xlsx")
    assert list(small_limit.IMPORT_FILE_DIR.glob("*")) == []


def test_a_field_after_the_cut_off_file_is_not_reported_missing(small_limit, client_for, areas):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    # the file comes before the area in the body: the area is never read
    response = client.post(
        reverse("imports:roster_upload"), {"file": big_file(LIMIT + 20_000), "area": "G1"}
    )
    body = response.content.decode()
    assert response.status_code == 413 and "文件超过 0.1 MB" in body
    assert "必填" not in body
