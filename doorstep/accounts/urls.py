from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("two-factor/", views.two_factor_verify_view, name="two_factor_verify"),
    path("two-factor/enrol/", views.two_factor_enrol_view, name="two_factor_enrol"),
    path("password/", views.password_change_view, name="password_change"),
    path("password/done/", views.password_change_done_view, name="password_change_done"),
    path("users/import/", views.users_import_view, name="users_import"),
    path("tokens/", views.tokens_view, name="tokens"),
    path("users/", views.users_view, name="users"),
    path("users/<int:user_id>/", views.user_detail_view, name="user_detail"),
]
