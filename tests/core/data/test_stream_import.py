"""Importing table files and vector files chunk by chunk (``data.stream``) builds what the in-memory path builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from superintendent_core.data.stream import table_chunks, vector_chunks
from superintendent_core.data.tables import read_table, table_batch
from superintendent_core.service import add_to_project, create_project
from superintendent_core.store import InvalidInput, ItemBatch, ProjectSettings, open_store
from superintendent_core.store.items import TableRows

CLASSES = ("cat", "dog")


def table(n: int = 57, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "id": [f"item-{i}" for i in range(n)],
            "text": [f"the {i}th text, é {i % 7}" for i in range(n)],
            "a": rng.normal(size=n).astype(np.float32),
            "b": rng.normal(size=n),
            "k": rng.integers(-5, 5, n),
            "label": [CLASSES[i % 2] if i % 3 == 0 else None for i in range(n)],
        }
    )
    return df


def project(path) -> tuple:
    with open_store(str(path), create=False) as store:
        n = len(store)
        ids = np.arange(n)
        feats = store.features(ids)
        feats = (
            feats.to_numpy().tobytes()
            if isinstance(feats, pd.DataFrame)
            else (feats.tobytes() if isinstance(feats, np.ndarray) else feats)
        )
        return (
            n,
            store.names(ids),
            feats,
            [store.item(i).payload for i in range(n)],
            store.labels().drop(columns=["time"]).to_json(),
            store.settings.kind,
            store.settings.feature_kind,
        )


OPTIONS = [
    dict(kind="table", display_columns=["text", "k"], label_column="label", name_column="id"),
    dict(kind="text", display_columns=["text"], label_column="label"),
    dict(kind="text", display_columns=["text"], feature_columns=["a", "b"]),
]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("options", OPTIONS, ids=["table", "text", "text+numbers"])
def test_a_streamed_file_builds_the_in_memory_project(tmp_path, fmt, options):
    df = table()
    source = tmp_path / f"t.{fmt}"
    df.to_parquet(source) if fmt == "parquet" else df.to_csv(source, index=False)
    s = ProjectSettings(name="t", classes=CLASSES)
    create_project(tmp_path / "memory", s, table_batch(read_table(source)[0], **options))
    seen = []
    chunks = table_chunks(
        source, chunk_rows=10, progress=lambda done, total: seen.append((done, total)), **options
    )
    create_project(tmp_path / "streamed", s, chunks)
    assert project(tmp_path / "streamed") == project(tmp_path / "memory")
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and seen[-1] == (57, 57)
    assert all(total == 57 for _, total in seen)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.integers(1, 40))
def test_the_chunk_size_does_not_change_the_project(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("chunks")
    source = tmp / "t.parquet"
    table(33).to_parquet(source)
    s = ProjectSettings(name="t", classes=CLASSES)
    create_project(tmp / "one", s, table_chunks(source, chunk_rows=1000, **OPTIONS[0]))
    create_project(tmp / "many", s, table_chunks(source, chunk_rows=rows, **OPTIONS[0]))
    assert project(tmp / "many") == project(tmp / "one")


def test_added_to_an_existing_project_chunk_by_chunk(tmp_path):
    df = table(40)
    source = tmp_path / "more.parquet"
    df.iloc[20:].to_parquet(source)
    s = ProjectSettings(name="t", classes=CLASSES)
    create_project(tmp_path / "p", s, table_batch(df.iloc[:20], **OPTIONS[0]))
    create_project(tmp_path / "memory", s, table_batch(df, **OPTIONS[0]))
    with open_store(str(tmp_path / "p"), create=False) as store:
        assert add_to_project(store, table_chunks(source, chunk_rows=6, **OPTIONS[0])) == 20
    assert project(tmp_path / "p") == project(tmp_path / "memory")


@pytest.mark.parametrize("fault", ["nan", "text in numbers", "duplicate name", "vector width"])
def test_a_bad_row_in_a_late_chunk_refuses_the_file_and_names_it(tmp_path, fault):
    df = table(60)
    df["vec"] = [list(map(float, range(3))) for _ in range(60)]
    options = dict(OPTIONS[0])
    if fault == "nan":
        df.loc[55, "b"] = np.nan
        want = "item-55"
    elif fault == "duplicate name":
        df.loc[58, "id"] = "item-3"
        want = "item-3.*rows 3 and 58"
    elif fault == "vector width":
        df.at[52, "vec"] = [1.0, 2.0]
        options["feature_columns"] = ["vec"]
        want = "item-52.*2 numbers"
    else:
        df["k"] = df["k"].astype(object)
        df.loc[54, "k"] = "seven"
        want = "'k'.*seven.*item-54"
    source = tmp_path / ("t.csv" if fault == "text in numbers" else "t.parquet")
    df.to_csv(source, index=False) if source.suffix == ".csv" else df.to_parquet(source)
    s = ProjectSettings(name="t", classes=CLASSES)
    old = table(5, seed=9).assign(id=lambda d: "old-" + d["id"], vec=[[0.5, 1.0, 2.0]] * 5)
    create_project(tmp_path / "p", s, table_batch(old, **options))
    before = project(tmp_path / "p")
    files = sorted(p.name for p in (tmp_path / "p").iterdir())
    with (
        open_store(str(tmp_path / "p"), create=False) as store,
        pytest.raises(InvalidInput, match=want),
    ):
        add_to_project(store, table_chunks(source, chunk_rows=10, **options))
    assert project(tmp_path / "p") == before
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == files
    with pytest.raises(InvalidInput, match=want):  # a new project: nothing is left behind
        create_project(tmp_path / "new", s, table_chunks(source, chunk_rows=10, **options))
    assert not (tmp_path / "new").exists()


def test_vectors_from_npy_and_names_build_what_one_batch_builds(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(45, 6))
    np.save(tmp_path / "v.npy", X)
    names = [f"vec {i}" for i in range(45)]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    s = ProjectSettings(name="v", classes=CLASSES)
    create_project(
        tmp_path / "memory",
        s,
        ItemBatch(
            names=names, kind="table", features=X, payloads=TableRows(pd.DataFrame({"name": names}))
        ),
    )
    seen = []
    create_project(
        tmp_path / "streamed",
        s,
        vector_chunks(
            tmp_path / "v.npy",
            tmp_path / "names.txt",
            chunk_rows=8,
            progress=lambda d, t: seen.append((d, t)),
        ),
    )
    assert project(tmp_path / "streamed") == project(tmp_path / "memory")
    assert seen[-1] == (45, 45) and [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize("fault", ["nan", "names", "dtype", "dimensions"])
def test_a_vector_file_that_does_not_match_is_refused_whole(tmp_path, fault):
    X = np.random.default_rng(0).normal(size=(30, 4))
    names = [f"n{i}" for i in range(30)]
    if fault == "nan":
        X[27, 1] = np.nan
        want = "n27"
    elif fault == "names":
        names = names[:-1]
        want = "29 name.*30 row"
    elif fault == "dtype":
        X = X.astype(str)
        want = "features must be numbers"
    else:
        X = X.reshape(30, 2, 2)
        want = "3-D"
    np.save(tmp_path / "v.npy", X)
    (tmp_path / "names.txt").write_text("\n".join(names))
    with pytest.raises(InvalidInput, match=want):
        create_project(
            tmp_path / "p",
            ProjectSettings(name="v"),
            vector_chunks(tmp_path / "v.npy", tmp_path / "names.txt", chunk_rows=7),
        )
    assert not (tmp_path / "p").exists()


def test_the_label_column_proposes_every_class_of_the_file(tmp_path):
    df = table(50)
    df.loc[49, "label"] = "bird"  # only in the last rows
    df.to_parquet(tmp_path / "t.parquet")
    df.to_csv(tmp_path / "t.csv", index=False)
    for name in ("t.parquet", "t.csv"):
        chunks = table_chunks(tmp_path / name, chunk_rows=10, **OPTIONS[0])
        assert chunks.classes() == ["bird", "cat", "dog"]
        assert len(chunks) == 50


def test_unreadable_files_are_refused_with_a_message(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("a,b\n")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    for name, want in (
        ("empty.csv", "empty"),
        ("header.csv", "no rows"),
        ("bad.parquet", "not a readable parquet"),
        ("missing.csv", "does not exist"),
    ):
        with pytest.raises(InvalidInput, match=want):
            table_chunks(tmp_path / name)
    with pytest.raises(InvalidInput, match="display column 'nope'"):
        table(5).to_csv(tmp_path / "ok.csv", index=False)
        table_chunks(tmp_path / "ok.csv", kind="table", display_columns=["nope"])


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_a_csv_in_another_encoding_reads_as_the_in_memory_path_reads_it(tmp_path, encoding):
    df = table(30)
    source = tmp_path / "t.csv"
    source.write_bytes(df.to_csv(index=False).encode(encoding))
    memory, notes = read_table(source)
    chunks = table_chunks(source, chunk_rows=7, **OPTIONS[0])
    assert len(chunks) == 30 and chunks.notes == notes
    s = ProjectSettings(name="t", classes=CLASSES)
    create_project(tmp_path / "memory", s, table_batch(memory, **OPTIONS[0]))
    create_project(tmp_path / "streamed", s, chunks)
    assert project(tmp_path / "streamed") == project(tmp_path / "memory")


def test_a_parquet_of_names_and_vectors_streams_as_the_in_memory_path_builds_it(tmp_path):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"name": [f"n{i}" for i in range(40)], "vec": list(rng.normal(size=(40, 5)))})
    df.to_parquet(tmp_path / "v.parquet")
    options = dict(
        kind="table", display_columns=["name"], feature_columns=["vec"], name_column="name"
    )
    s = ProjectSettings(name="v", classes=CLASSES)
    create_project(
        tmp_path / "memory", s, table_batch(read_table(tmp_path / "v.parquet")[0], **options)
    )
    create_project(
        tmp_path / "streamed", s, table_chunks(tmp_path / "v.parquet", chunk_rows=9, **options)
    )
    assert project(tmp_path / "streamed") == project(tmp_path / "memory")
    df.at[37, "vec"] = np.array([1.0, np.inf, 0.0, 0.0, 0.0])
    df.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(InvalidInput, match="'n37'.*NaN or infinite"):
        create_project(
            tmp_path / "bad", s, table_chunks(tmp_path / "bad.parquet", chunk_rows=9, **options)
        )
    assert not (tmp_path / "bad").exists()
