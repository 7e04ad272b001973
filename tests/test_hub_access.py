"""Uploads to the Hub are checked before any work (offline, unreachable, no token, no right to write), and a
failed upload is one line that says what is kept locally."""

from __future__ import annotations

import huggingface_hub
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HTTPError, LocalTokenNotFoundError
from isolated import assert_one_line_error, run_samrs
from samrs_folders import write_samrs

from samrs_hf import checkpoints
from samrs_hf.checkpoints import HubAccessError, check_hub_upload, upload_failure_line

WRITE = {"type": "access_token", "accessToken": {"role": "write"}}


def whoami(**answer):
    """A fake ``HfApi.whoami`` answering ``answer`` (user ``me``, member of ``team`` by default)."""
    answer = {"name": "me", "orgs": [{"name": "team", "roleInOrg": "write"}], "auth": WRITE} | answer
    return lambda self: answer


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setattr(huggingface_hub, "is_offline_mode", lambda: False)
    monkeypatch.setattr(checkpoints, "hub_reachable", lambda repo_id: True)


@pytest.mark.parametrize("repo_id", ["me/samrs", "team/samrs"])
def test_a_write_token_of_the_namespace_passes(online, monkeypatch, repo_id):
    monkeypatch.setattr(HfApi, "whoami", whoami())
    check_hub_upload(repo_id, "--push-to-hub")


def _raise(error: Exception):
    def fail(self):
        raise error

    return fail


@pytest.mark.parametrize(
    ("answer", "repo_id", "message"),
    [
        (_raise(LocalTokenNotFoundError("no token")), "me/x", "not logged in to the Hub; run `hf auth login`"),
        (whoami(), "other/x", "the token of me may not write to 'other'"),
        (whoami(orgs=[{"name": "team", "roleInOrg": "read"}]), "team/x", "may not write to 'team'"),
        (whoami(auth={"accessToken": {"role": "read"}}), "me/x", "may not write to 'me'; use a write token"),
        (
            whoami(auth={"accessToken": {"role": "fineGrained", "fineGrained": {"scoped": []}}}),
            "me/x",
            "may not write to 'me'",
        ),
    ],
)
def test_credentials_that_cannot_upload_are_one_line(online, monkeypatch, answer, repo_id, message):
    monkeypatch.setattr(HfApi, "whoami", answer)
    with pytest.raises(HubAccessError, match=f"^--push-to-hub {repo_id}: ") as error:
        check_hub_upload(repo_id, "--push-to-hub")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_fine_grained_write_to_the_namespace_passes(online, monkeypatch):
    scoped = [{"entity": {"type": "org", "name": "team"}, "permissions": ["repo.content.read", "repo.write"]}]
    token = {"accessToken": {"role": "fineGrained", "fineGrained": {"scoped": scoped}}}
    monkeypatch.setattr(HfApi, "whoami", whoami(auth=token))
    check_hub_upload("team/x", "--push-to-hub")


def test_offline_and_unreachable_are_told_apart(monkeypatch):
    monkeypatch.setattr(HfApi, "whoami", lambda self: pytest.fail("asked for credentials"))
    monkeypatch.setattr(huggingface_hub, "is_offline_mode", lambda: True)
    with pytest.raises(HubAccessError, match=r"^--repo-id org/x: cannot upload in offline mode; unset HF_HUB_OFFLINE$"):
        check_hub_upload("org/x", "--repo-id")
    monkeypatch.setattr(huggingface_hub, "is_offline_mode", lambda: False)
    monkeypatch.setattr(checkpoints, "hub_reachable", lambda repo_id: False)
    with pytest.raises(HubAccessError, match=r"^--repo-id org/x: \S+ is unreachable; check the network"):
        check_hub_upload("org/x", "--repo-id")


def test_a_failed_upload_names_the_complete_local_folder(tmp_path):
    with pytest.raises(HubAccessError) as error, upload_failure_line(tmp_path, "org/x", "rerun it"):
        raise HTTPError("[Errno 111] Connection refused\nmore lines")
    assert str(error.value) == (
        f"uploading {tmp_path} to org/x failed ([Errno 111] Connection refused); {tmp_path} is complete: rerun it"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HF_HUB_OFFLINE": "1"}, "cannot upload in offline mode"),
        ({"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}, "http://127.0.0.1:9 is unreachable"),
    ],
)
def test_samrs_push_offline_or_unreachable_is_one_line_before_anything_is_sent(tmp_path, env, message):
    folder = write_samrs(tmp_path / "samrs", {"sota": {"train": 1}})
    result = run_samrs("push", folder, "--repo-id", "org/samrs", env=env)
    assert_one_line_error(result, f"samrs push: error: --repo-id org/samrs: {message}")
    assert result.stderr.count("\n") == 1
