from django.urls import path

from maestro.auth.reads import lean_read_view
from orchestration.work.api import projects, queue, sessions, tasks

urlpatterns = [
    path("projects", projects.ProjectListView.as_view()),
    path("projects/<str:project_id>", lean_read_view(projects.ProjectDetailView)),
    path("tasks", tasks.TaskListView.as_view()),
    path("tasks/<str:task_id>", lean_read_view(tasks.TaskDetailView)),
    path("tasks/<str:task_id>/children", tasks.TaskChildrenView.as_view()),
    path("tasks/<str:task_id>/timeline", tasks.TaskTimelineView.as_view()),
    path("tasks/<str:task_id>/subtasks", tasks.SubtaskListView.as_view()),
    path("tasks/<str:task_id>/subtasks/<str:subtask_id>", tasks.SubtaskDetailView.as_view()),
    path("sessions", sessions.SessionListView.as_view()),
    path("sessions/spawn", sessions.SessionSpawnView.as_view()),
    path("sessions/<str:session_id>", lean_read_view(sessions.SessionDetailView)),
    path("sessions/<str:session_id>/events", sessions.SessionEventsView.as_view()),
    path("sessions/<str:session_id>/timeline", sessions.SessionTimelineView.as_view()),
    path("sessions/<str:session_id>/manifest", sessions.SessionManifestView.as_view()),
    path("sessions/<str:session_id>/queue", queue.QueueStateView.as_view()),
    path("sessions/<str:session_id>/queue/items", queue.QueueItemsView.as_view()),
    path("sessions/<str:session_id>/queue/top", queue.QueueTopView.as_view()),
    path("sessions/<str:session_id>/queue/start", queue.QueueStartView.as_view()),
    path("sessions/<str:session_id>/queue/complete", queue.QueueCompleteView.as_view()),
    path("sessions/<str:session_id>/queue/fail", queue.QueueFailView.as_view()),
    path("sessions/<str:session_id>/queue/skip", queue.QueueSkipView.as_view()),
    path("sessions/<str:session_id>/queue/push", queue.QueuePushView.as_view()),
    path("sessions/<str:session_id>/tasks/<str:task_id>", sessions.SessionTaskView.as_view()),
]
