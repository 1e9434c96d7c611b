"""URL routes of the field pages (see views/)."""

urlpatterns: list = []
