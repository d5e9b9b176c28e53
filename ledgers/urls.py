from .views import circulars, core, ledger, reports, walks

urlpatterns = [*core.urlpatterns, *walks.urlpatterns, *ledger.urlpatterns, *reports.urlpatterns,
               *circulars.urlpatterns]
