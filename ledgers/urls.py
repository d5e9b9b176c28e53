from .views import circulars, core, imports, items, ledger, reports, walks

urlpatterns = [*core.urlpatterns, *walks.urlpatterns, *ledger.urlpatterns, *items.urlpatterns, *reports.urlpatterns,
               *circulars.urlpatterns]
urlpatterns += imports.urlpatterns
