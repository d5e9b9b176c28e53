from .views import core, ledger, reports, walks

urlpatterns = [*core.urlpatterns, *walks.urlpatterns, *ledger.urlpatterns, *reports.urlpatterns]
