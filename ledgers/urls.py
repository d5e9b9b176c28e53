from .views import core, imports, ledger, reports, walks

urlpatterns = [*core.urlpatterns, *walks.urlpatterns, *ledger.urlpatterns, *reports.urlpatterns]
urlpatterns += imports.urlpatterns
