"""Unit tests of core/series.py: serial templates, discriminators, identities, randomness."""

import os
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from matter_factory_data.core import onboarding, series
from matter_factory_data.errors import InputError

QUICK = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------- Randomness

def test_seeded_randomness_is_reproducible_and_separates_index_and_purpose():
    a, b = series.Randomness("lot 42"), series.Randomness("lot 42")
    assert a.seeded
    assert a.bytes(7, "salt", 32) == b.bytes(7, "salt", 32)
    assert a.bytes(7, "salt", 32) != a.bytes(8, "salt", 32)
    assert a.bytes(7, "salt", 32) != a.bytes(7, "rd_uid", 32)
    assert a.bytes(7, "salt", 32) != series.Randomness("lot 43").bytes(7, "salt", 32)
    long = a.bytes(1, "x", 100)  # longer than one HMAC block
    assert len(long) == 100 and long[:32] != long[32:64]
    assert a.bytes(1, "x", 10) == long[:10]


def test_unseeded_randomness_is_not_repeated():
    r = series.Randomness(None)
    assert not r.seeded
    assert len({r.bytes(1, "same purpose", 16) for _ in range(50)}) == 50


def test_unseeded_randomness_hands_out_each_os_byte_once_and_not_to_a_fork():
    randomness = series.Randomness(None)
    drawn = [randomness.bytes(i, "salt", 32) for i in range(3 * series.Randomness.POOL // 32)]
    assert len(set(drawn)) == len(drawn)  # across several refills of the pool
    assert randomness.bytes(0, "big", 2 * series.Randomness.POOL) != b""  # larger than a pool
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child must not hand out what the parent will
        os.write(write, randomness.bytes(0, "x", 16))
        os._exit(0)
    os.waitpid(child, 0)
    from_child = os.read(read, 16)
    os.close(read)
    os.close(write)
    assert from_child != randomness.bytes(0, "x", 16)


@QUICK
@given(seed=st.text(max_size=20), index=st.integers(0, 10**6),
       bound=st.integers(1, 2**64))
def test_below_is_in_range(seed, index, bound):
    value = series.Randomness(seed).below(index, "p", bound)
    assert 0 <= value < bound


def test_seed_fingerprint_identifies_without_revealing():
    assert series.seed_fingerprint(None) is None
    fp = series.seed_fingerprint("s3cret-seed")
    assert fp == series.seed_fingerprint("s3cret-seed")
    assert fp != series.seed_fingerprint("s3cret-seee")
    assert "s3cret" not in fp


# --------------------------------------------------------------------------- SerialTemplate

@pytest.mark.parametrize("template", [
    "SN-{n",            # unbalanced brace
    "SN-n}",
    "SN-{}",            # positional
    "SN-{0}",
    "SN-{m}",           # another name
    "SN-{n!r}",         # conversion
    "SN-{n.real}",      # attribute
    "SN-{n[0]}",        # item
    "SN-{n:{w}}",       # nested field
    "SN-FIXED",         # no {n}: every device the same serial number
    "SN-{{n}}",         # escaped: still no field
    "",
])
def test_serial_template_syntax_errors(template):
    with pytest.raises(InputError) as info:
        series.SerialTemplate(template)
    assert "--sn_template" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("template", [
    "{n:.1e}", "{n:e}", "{n:f}", "{n:.0f}", "{n:g}", "{n:%}", "{n:c}", "{n:s}", "{n:.1}",
    "{n:n}",
])
def test_serial_template_refuses_non_integer_formats(template):
    with pytest.raises(InputError):
        series.SerialTemplate(template)


@pytest.mark.parametrize("template, index, expected", [
    ("SN-{n:06d}", 7, "SN-000007"),
    ("{n:08X}", 255, "000000FF"),
    ("{n}", 4097, "4097"),
    ("{n:x}-{n:o}", 8, "8-10"),
    ("B{n:b}", 5, "B101"),
    ("{n:,d}", 1234567, "1,234,567"),
    ("{n:*>6}", 42, "****42"),
    ("{n:0=6}", 42, "000042"),
    ("{n:#x}", 255, "0xff"),
    ("{n:>5}", 42, "   42"),
])
def test_serial_template_formats(template, index, expected):
    t = series.SerialTemplate(template)
    assert not t.is_random
    assert t.format(index) == expected


def test_no_template_means_random_serials():
    assert series.SerialTemplate(None).is_random
    series.SerialTemplate(None).check_range(10**6)  # nothing to check


def test_serial_template_range():
    t = series.SerialTemplate("A" * 30 + "{n}")
    t.check_range(99)  # 32 bytes: the maximum
    with pytest.raises(InputError) as info:
        t.check_range(100)  # 33 bytes
    assert "33 bytes" in str(info.value) and "1..32" in str(info.value)
    with pytest.raises(InputError):
        series.SerialTemplate("{n:040d}").check_range(1)
    with pytest.raises(InputError):  # multi-byte characters count in bytes
        series.SerialTemplate("é" * 15 + "{n:03d}").check_range(5)


# Format specifications: [[fill]align][sign][#][0][width][grouping][.precision][type]
_SPEC = st.builds(
    lambda fill, align, sign, alt, zero, width, group, type_: (
        (fill + align if align else "") + sign + alt + zero + width + group + type_),
    fill=st.sampled_from(list("0123456789aAfF *-x")),
    align=st.sampled_from(["", "<", ">", "^", "="]),
    sign=st.sampled_from(["", "+", "-", " "]), alt=st.sampled_from(["", "#"]),
    zero=st.sampled_from(["", "0"]), width=st.sampled_from(["", "1", "2", "3", "5", "8"]),
    group=st.sampled_from(["", ",", "_"]), type_=st.sampled_from(["", "d", "x", "X", "o", "b"]),
)


def _accepted(template, count):
    try:
        t = series.SerialTemplate(template)
        t.check_range(count)
    except InputError:
        return None
    return t


@settings(max_examples=300, deadline=None, derandomize=True)
@given(spec=_SPEC, prefix=st.sampled_from(["", "SN-", "7"]))
@example(spec="0<3", prefix="")
def test_accepted_serial_templates_never_repeat(spec, prefix):
    """Whatever template is accepted gives every index of the series its own serial."""
    count = 300
    t = _accepted(prefix + "{n:" + spec + "}", count)
    if t is None:
        return
    serials = [t.format(i) for i in range(1, count + 1)]
    assert len(set(serials)) == count, (spec, serials[:12])


@pytest.mark.parametrize("template", ["{n:0<3}", "{n:1>3}", "{n:0^3}", "{n:a>3x}",
                                      "{n:0<2d}"])
def test_colliding_fill_formats_are_refused(template):
    with pytest.raises(InputError):
        series.SerialTemplate(template).check_range(200)


# --------------------------------------------------------------------------- DiscriminatorPool

def _pool(sequential=False, start=0, allow_shared=False, seed=None):
    return series.DiscriminatorPool(sequential=sequential, start=start,
                                    allow_shared=allow_shared,
                                    randomness=series.Randomness(seed))


def test_sequential_discriminators_wrap():
    pool = _pool(sequential=True, start=4090, allow_shared=True)
    values = [pool.allocate(i) for i in range(1, 11)]
    assert values == [4090, 4091, 4092, 4093, 4094, 4095, 0, 1, 2, 3]
    pool = _pool(sequential=True, start=4090, allow_shared=True)
    values = [pool.allocate(i) for i in range(1, 4097 + 1)]
    assert sorted(values[:4096]) == list(range(4096))
    assert values[4096] == values[0] == 4090
    assert pool.shared_with(4090, 4097) == [1]


def test_sequential_discriminators_refuse_wrap_without_sharing():
    pool = _pool(sequential=True, start=5)
    for i in range(1, 4097):
        pool.allocate(i)
    with pytest.raises(InputError) as info:
        pool.allocate(4097)
    assert "discriminator 5" in str(info.value) and "device 1" in str(info.value)


def test_seeded_discriminators_are_a_permutation_per_4096_devices():
    pool = _pool(seed="perm", allow_shared=True)
    first = [pool.allocate(i) for i in range(1, 4097)]
    assert sorted(first) == list(range(4096))
    assert first != list(range(4096))  # shuffled, not sequential
    second = [pool.allocate(i) for i in range(4097, 8193)]
    assert sorted(second) == list(range(4096))
    assert second != first
    again = _pool(seed="perm", allow_shared=True)
    assert [again.allocate(i) for i in range(1, 4097)] == first
    other = _pool(seed="perm2", allow_shared=True)
    assert [other.allocate(i) for i in range(1, 4097)] != first


def test_seeded_discriminators_do_not_depend_on_resume():
    """Device i gets the same value whether or not devices before it were made in this run."""
    whole = _pool(seed="resume")
    values = [whole.allocate(i) for i in range(1, 301)]
    resumed = _pool(seed="resume")
    for i, value in enumerate(values[:137], start=1):
        resumed.record(value, i)
    assert [resumed.allocate(i) for i in range(138, 301)] == values[137:]


def test_unseeded_discriminators_distinct_then_least_used():
    pool = _pool(allow_shared=True)
    first = [pool.allocate(i) for i in range(1, 4097)]
    assert sorted(first) == list(range(4096))
    second = [pool.allocate(i) for i in range(4097, 4097 + 4096)]
    assert sorted(second) == list(range(4096))  # every value exactly twice
    third = [pool.allocate(i) for i in range(8193, 8193 + 100)]
    assert len(set(third)) == 100
    for i in range(8193, 8193 + 100):
        value = third[i - 8193]
        assert len(pool.shared_with(value, i)) == 2


def test_unseeded_discriminators_avoid_recorded_values():
    pool = _pool()
    for i, value in enumerate(range(4095), start=1):
        pool.record(value, i)
    assert pool.allocate(4096) == 4095
    with pytest.raises(InputError):
        pool.allocate(4097)


def test_unseeded_refuses_4097th_without_sharing():
    pool = _pool()
    for i in range(1, 4097):
        pool.allocate(i)
    with pytest.raises(InputError) as info:
        pool.allocate(4097)
    assert "--allow_shared_discriminators" in str(info.value)


def test_seeded_collision_with_recorded_value_is_refused():
    pool = _pool(seed="x")
    value = _pool(seed="x").allocate(5)
    pool.record(value, 1)
    with pytest.raises(InputError):
        pool.allocate(5)


# --------------------------------------------------------------------------- IdentityAllocator

def _allocator(seed=None, template=None, sequential=False, allow_shared=False, randomness=None):
    randomness = randomness or series.Randomness(seed)
    pool = series.DiscriminatorPool(sequential=sequential, start=0, allow_shared=allow_shared,
                                    randomness=randomness)
    return series.IdentityAllocator(randomness=randomness,
                                    template=series.SerialTemplate(template),
                                    discriminators=pool)


RD = bytes(range(16))


def test_seen_filter_never_misses_and_rarely_claims():
    seen = series.SeenFilter(2000)
    held = [os.urandom(16) for _ in range(2000)]
    for value in held:
        seen.add(value)
    assert all(value in seen for value in held)  # never a miss
    others = sum(os.urandom(16) in seen for _ in range(20000))
    assert others <= 2  # about 1e-8 per lookup


@pytest.mark.parametrize("field", ["sn", "rd_uid", "pair", "dac_serial"])
def test_allocator_never_hands_out_a_recorded_value(field):
    """Whatever the draws, a value recorded earlier (a finished device) is drawn again."""
    first = _allocator(seed="s").allocate(1)
    alloc = _allocator(seed="s")  # the same draws for index 1 ...
    alloc.record(7, first.sn, first.passcode, first.discriminator, first.rd_uid,
                 first.dac_serial)  # ... but they belong to device 7 already
    again = alloc.allocate(1, series.Given(discriminator=first.discriminator))
    values = {"sn": (again.sn, first.sn), "rd_uid": (again.rd_uid, first.rd_uid),
              "pair": ((again.passcode, again.discriminator),
                       (first.passcode, first.discriminator)),
              "dac_serial": (again.dac_serial, first.dac_serial)}
    now, before = values[field]
    assert now != before


def test_allocator_uses_given_values_as_given():
    """Repeats among given values are refused by the CSV check (test_batch), not here."""
    alloc = _allocator(template="SN-{n}", allow_shared=True)
    identity = alloc.allocate(2, series.Given(sn="GIVEN", rd_uid=RD, passcode=1234,
                                              discriminator=7, spake2_salt=b"s" * 16))
    assert (identity.sn, identity.rd_uid, identity.passcode, identity.discriminator,
            identity.spake2_salt) == ("GIVEN", RD, 1234, 7, b"s" * 16)


def test_allocated_identities_are_distinct_and_well_formed():
    alloc = _allocator(template="D{n:04d}")
    ids = [alloc.allocate(i) for i in range(1, 3001)]
    for field in ("sn", "rd_uid", "dac_serial", "spake2_salt", "discriminator"):
        assert len({getattr(x, field) for x in ids}) == 3000, field
    assert len({(x.passcode, x.discriminator) for x in ids}) == 3000
    for x in ids:
        assert x.sn == f"D{x.index:04d}"
        assert len(x.spake2_salt) >= 16 and len(x.rd_uid) >= 16
        assert 0 <= x.discriminator < 4096
        # positive, at most 20 DER octets
        assert 0 < x.dac_serial < (1 << 159)
        assert x.dac_key_seed is None  # unseeded: the key comes from the OS


def test_random_serials_are_hex_and_distinct():
    alloc = _allocator()
    sns = [alloc.allocate(i).sn for i in range(1, 201)]
    assert len(set(sns)) == 200
    assert all(1 <= len(s) <= 32 and all(c in string.hexdigits for c in s) for s in sns)


def test_seeded_allocation_is_reproducible_and_keyed_by_index():
    a, b = _allocator(seed="s"), _allocator(seed="s")
    ids_a = [a.allocate(i) for i in range(1, 21)]
    assert ids_a == [b.allocate(i) for i in range(1, 21)]
    assert all(x.dac_key_seed for x in ids_a)
    assert len({x.dac_key_seed for x in ids_a}) == 20
    other = _allocator(seed="t")
    ids_t = [other.allocate(i) for i in range(1, 21)]
    for field in ("passcode", "spake2_salt", "rd_uid", "dac_serial", "dac_key_seed", "sn"):
        assert [getattr(x, field) for x in ids_a] != [getattr(x, field) for x in ids_t], field


def test_allocation_after_recording_avoids_recorded_values():
    """Resume: values of finished devices are never handed out again."""
    first = _allocator(seed="r")
    made = [first.allocate(i) for i in range(1, 11)]
    resumed = _allocator(seed="r")
    for x in made[:5]:
        resumed.record(x.index, x.sn, x.passcode, x.discriminator, x.rd_uid, x.dac_serial)
    rest = [resumed.allocate(i) for i in range(6, 11)]
    assert rest == made[5:]  # same values as without the interruption


class ScriptedRandomness(series.Randomness):
    """Seeded bytes, but `below` returns scripted values first (to hit bad passcodes)."""

    def __init__(self, script):
        super().__init__("scripted")
        self.script = list(script)

    def below(self, index, purpose, bound):
        if self.script:
            return self.script.pop(0) % bound
        return super().below(index, purpose, bound)


_BAD_RAW = sorted({p - onboarding.PASSCODE_MIN for p in onboarding.INVALID_PASSCODES if p >= 1}
                  | {p for p in onboarding.INVALID_PASSCODES})


@QUICK
@given(script=st.lists(st.one_of(st.sampled_from(_BAD_RAW), st.integers(0, 2**40)),
                       max_size=12))
def test_passcodes_are_valid_whatever_the_draws(script):
    alloc = _allocator(sequential=True, allow_shared=True,
                       randomness=ScriptedRandomness(script))
    for i in range(1, 4):
        p = alloc.allocate(i).passcode
        assert onboarding.PASSCODE_MIN <= p <= onboarding.PASSCODE_MAX
        assert p not in onboarding.INVALID_PASSCODES
        assert onboarding.passcode_problem(p) is None


def test_every_forbidden_passcode_draw_is_skipped():
    script = _BAD_RAW * 2
    alloc = _allocator(sequential=True, allow_shared=True, randomness=ScriptedRandomness(script))
    got = [alloc.allocate(i).passcode for i in range(1, 4)]
    assert not set(got) & onboarding.INVALID_PASSCODES


def test_passcode_pair_repeat_is_redrawn():
    """Two devices sharing a discriminator never get the same passcode."""
    alloc = _allocator(sequential=True, allow_shared=True,
                       randomness=ScriptedRandomness([20202020] * 6))
    first = alloc.allocate(1)  # discriminator 0
    for i in range(2, 4097):
        alloc.discriminators.allocate(i)  # use up the cycle: the next device gets 0 again
    second = alloc.allocate(4097)
    assert second.discriminator == first.discriminator == 0
    assert second.passcode != first.passcode


@QUICK
@given(seed=st.text(min_size=1, max_size=16))
def test_seeded_passcodes_valid(seed):
    alloc = _allocator(seed=seed)
    for i in range(1, 30):
        p = alloc.allocate(i).passcode
        assert 1 <= p <= 99999998 and p not in onboarding.INVALID_PASSCODES


def test_duplicates_helper():
    assert series.duplicates([(1, "a"), (2, "b"), (3, "a")]) == {"a": [1, 3]}
    assert series.duplicates([]) == {}


def test_unseeded_passcodes_valid():
    alloc = _allocator()
    ps = [alloc.allocate(i).passcode for i in range(1, 300)]
    assert all(1 <= p <= 99999998 and p not in onboarding.INVALID_PASSCODES for p in ps)
    assert len(set(ps)) > 290  # random, not a constant
