from .views import core

urlpatterns = [*core.urlpatterns]
