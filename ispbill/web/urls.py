from django.urls import path

from ispbill.web import views, views_access

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("audit/", views_access.audit_log, name="audit_log"),
    path("account/tokens/", views_access.api_tokens, name="api_tokens"),
    path(
        "account/tokens/<int:token_id>/revoke/",
        views_access.api_token_revoke_view,
        name="api_token_revoke",
    ),
    path("access/view-as/", views_access.view_as_list, name="view_as_list"),
    path("access/view-as/stop/", views_access.view_as_stop, name="view_as_stop"),
    path("access/view-as/<int:partner_id>/", views_access.view_as_start, name="view_as_start"),
]
