from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from . import views

app_name = "api"

# The schema and its docs page describe the API and hold no data: open to anyone who can reach it.
urlpatterns = [
    path("problems/", views.problems, name="problems"),
    path("items/", views.items, name="items"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    path("items/<int:pk>/progress/", views.item_progress, name="item_progress"),
    path("items/<int:pk>/closure-request/", views.item_closure, name="item_closure"),
    path("items/<int:pk>/approve/", views.item_approve, name="item_approve"),
    path("items/<int:pk>/return/", views.item_return, name="item_return"),
    path("figures/", views.figures, name="figures"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
         name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", permission_classes=[AllowAny],
                                                      authentication_classes=[]), name="docs"),
    # Anything else under /api/v1/ is a JSON 404, not the site's HTML page, newlines included
    # ("." stops at an encoded %0A; Django's reverse() refuses the (?s) flag).
    re_path(r"^[\s\S]*$", views.not_found, name="not_found"),
]
