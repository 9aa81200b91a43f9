"""Volumetric checks: the longest run of plausible slices from apex to base."""

from ScarSegmentationLib.anatomy.volumetric import longest_run, volumetric_check


def test_longest_run():
    assert longest_run([False, True, True, False, True, True, True, False]) == (4, 7)
    assert longest_run([False, False]) == (0, 0)
    assert longest_run([True] * 4) == (0, 4)
    # tie: the run nearer the middle of the stack wins
    assert longest_run([True, False, False, True, False, False, False]) == (3, 4)


def test_slices_outside_the_run_are_dropped_with_reasons():
    d = volumetric_check([True, False, True, True, True, False, True])
    assert d.kept == [False, False, True, True, True, False, False]
    assert d.run == (2, 5)
    assert "below the apex" in d.reasons[0]
    assert "implausible" in d.reasons[1] and "implausible" in d.reasons[5]
    assert "above the base" in d.reasons[6]
    assert d.reasons[2:5] == ["", "", ""]


def test_at_most_one_c_shape_at_the_base():
    plausible = [True] * 6
    open_ring = [False, False, False, True, False, False]
    d = volumetric_check(plausible, open_ring)
    assert d.kept == [True, True, True, True, False, False]
    assert "'C'" in d.reasons[4]
    # a C at the top of the stack is kept
    assert volumetric_check(plausible, [False] * 5 + [True]).kept == [True] * 6


def test_nothing_plausible():
    d = volumetric_check([False, False])
    assert d.kept == [False, False] and d.run == (0, 0)
