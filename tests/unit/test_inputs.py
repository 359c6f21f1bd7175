"""Finding submissions: folders of notebooks, per-learner folders, LMS zips, odd entries."""
import zipfile

import pytest

from grader.exceptions import GraderError
from grader.batch.inputs import collect, read_mapping


def _touch(path, text="{}"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_folder_of_notebooks_and_odd_files(tmp_path):
    _touch(tmp_path / "alice.ipynb")
    _touch(tmp_path / "José María.ipynb")
    _touch(tmp_path / "bob.pdf")
    _touch(tmp_path / ".hidden.ipynb")
    subs = {s.learner: s for s in collect(tmp_path)}
    assert sorted(subs) == ["José María", "alice", "bob"]
    assert subs["alice"].notebook.name == "alice.ipynb" and not subs["alice"].problem
    assert "bob.pdf is not a notebook" in subs["bob"].problem


def test_per_learner_folders_keep_their_files(tmp_path):
    _touch(tmp_path / "carol" / "work.ipynb")
    _touch(tmp_path / "carol" / "data" / "extra.csv", "1,2")
    _touch(tmp_path / "dave" / "a.ipynb")
    _touch(tmp_path / "dave" / "b.ipynb")
    _touch(tmp_path / "erin" / "notes.txt")
    subs = {s.learner: s for s in collect(tmp_path)}
    assert subs["carol"].notebook.name == "work.ipynb"
    assert [p.name for p in subs["carol"].files] == ["extra.csv"]
    assert "several notebooks (a.ipynb, b.ipynb)" in subs["dave"].problem
    assert "holds no notebook" in subs["erin"].problem


def test_mapping_and_two_submissions_for_one_learner(tmp_path):
    _touch(tmp_path / "sub_1.ipynb")
    _touch(tmp_path / "sub_2.ipynb")
    _touch(tmp_path / "x.ipynb")
    mapping = tmp_path.parent / "map.csv"
    mapping.write_text("submission,learner\nsub_1.ipynb,frank\nsub_2.ipynb,frank\nx.ipynb,grace\n")
    subs = {s.learner: s for s in collect(tmp_path, mapping=read_mapping(mapping))}
    assert sorted(subs) == ["frank", "grace"]
    assert "several submissions for learner frank" in subs["frank"].problem


def test_mapping_needs_its_columns(tmp_path):
    bad = tmp_path / "map.csv"
    bad.write_text("file,id\n")
    with pytest.raises(GraderError, match="submission,learner"):
        read_mapping(bad)


def test_lms_zip_is_unpacked_safely(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Assignment 2/heidi_123/heidi.ipynb", "{}")
        zf.writestr("Assignment 2/ivan.ipynb", "{}")
        zf.writestr("__MACOSX/._ivan.ipynb", "junk")
        zf.writestr("../escape.ipynb", "{}")
    subs = {s.learner: s for s in collect(archive, unpack_to=tmp_path / "unpacked")}
    assert sorted(subs) == ["heidi_123", "ivan"]
    assert not (tmp_path / "escape.ipynb").exists()


def test_not_a_zip(tmp_path):
    fake = _touch(tmp_path / "x.zip", "nope")
    with pytest.raises(GraderError, match="not a readable zip"):
        collect(fake, unpack_to=tmp_path / "u")
