def test_create_project_and_task(api_client):
    r = api_client.post("/api/projects", {"name": "P"}, format="json")
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    r = api_client.post("/api/tasks", {"projectId": pid, "title": "T"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["timeline"][0]["type"] == "created"
