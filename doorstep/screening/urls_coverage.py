"""URL routes of the coverage pages (see views/)."""

urlpatterns: list = []
