from .views import circulars, core, imports, ledger, reports, walks

urlpatterns = [*core.urlpatterns, *walks.urlpatterns, *ledger.urlpatterns, *reports.urlpatterns,
               *circulars.urlpatterns]
urlpatterns += imports.urlpatterns
