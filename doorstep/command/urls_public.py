"""The public bulletin pages and feeds: no login (each view is marked PUBLIC)."""

from django.urls import path

from . import views_bulletins

urlpatterns = [
    path("", views_bulletins.bulletin_public_list, name="bulletin_public_list"),
    path("<int:bulletin_id>/", views_bulletins.bulletin_public, name="bulletin_public"),
    path("feed.json", views_bulletins.bulletin_feed_json, name="bulletin_feed_json"),
    path("feed.atom", views_bulletins.bulletin_feed_atom, name="bulletin_feed_atom"),
]
