from django.urls import path

from ledger.api import views

urlpatterns = [
    path("entries", views.EntryListView.as_view()),
    path("entries/batch", views.EntryBatchView.as_view()),
    path("entries/<str:entry_id>", views.EntryDetailView.as_view()),
    path("entries/<str:entry_id>/proof", views.EntryProofView.as_view()),
    path("consistency", views.ConsistencyView.as_view()),
    path("checkpoints", views.CheckpointListView.as_view()),
    path("verify", views.VerifyView.as_view()),
    path("export", views.ExportView.as_view()),
    path("public-key", views.PublicKeyView.as_view()),
    path("segments", views.SegmentListView.as_view()),
    path("archive", views.ArchiveView.as_view()),
]
