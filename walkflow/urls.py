from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

admin.site.site_header = "走流程、解难题、优服务 台账系统"
admin.site.site_title = "walkflow 管理"
admin.site.index_title = "系统管理"
admin.site.index_template = "admin/walkflow_index.html"

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("ledgers.api.urls")),
    path("", include("ledgers.urls")),
]
