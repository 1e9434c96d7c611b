import tempfile
from pathlib import Path

from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _

from doorstep.core.middleware import public_view
from doorstep.imports.readers import UnreadableFile

from .services import may_manage_users, users_import

login_view = public_view(
    auth_views.LoginView.as_view(
        template_name="accounts/login.html", redirect_authenticated_user=True
    )
)
logout_view = auth_views.LogoutView.as_view()
password_change_view = auth_views.PasswordChangeView.as_view(
    template_name="accounts/password_change.html", success_url="/accounts/password/done/"
)
password_change_done_view = auth_views.PasswordChangeDoneView.as_view(
    template_name="accounts/password_change_done.html"
)


def users_import_view(request):
    """Create accounts in bulk from a sheet (admins of street, community, command)."""
    if not may_manage_users(request.user):
        raise PermissionDenied
    context = {"result": None, "error": ""}
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["error"] = _("choose a file")
        else:
            with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix) as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
                handle.flush()
                try:
                    context["result"] = users_import(
                        admin=request.user, path=Path(handle.name), request=request
                    )
                except UnreadableFile as error:
                    context["error"] = str(error)
    return render(request, "accounts/users_import.html", context)
