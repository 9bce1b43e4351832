from django.contrib.auth import views as auth_views
from django.urls import include, path

from ispbill.web import views as web_views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", web_views.health, name="health"),
    path("", include("ispbill.web.urls")),
]
