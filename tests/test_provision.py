"""The provisioning station against simulated boards on pseudo-terminals, several at once.

Each board is a thread on the master side of an ``os.openpty()`` pair; the station opens the
slave side by its path through pyserial, exactly as it opens /dev/ttyACM0 on the floor.
"""

import base64
import contextlib
import csv
import os
import select
import threading
import time
import zlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from matter_factory_data.core import certs
from matter_factory_data.station.provision import framing

VID, PID = 0xFFF1, 0x8004
VID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.1")
PID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.2")


# --- the device side's framing ---------------------------------------------------------------
# Written from the documented protocol (README, "Framing": "@MFD1 KIND PAYLOAD CRC\n", base64
# payload or "-", CRC-32 of "KIND PAYLOAD" in 8 upper-case hex digits), not with
# station.provision.framing, the code under test. What the board answers is pinned as bytes.

#: The README's example: the station's first frame (HELLO, protocol version 1).
HELLO_V1 = b"@MFD1 HELLO AQ== 44E24908"
#: STATUS frames the board sends, status 0..6 (README table, step 5).
STATUS_FRAMES = {
    0: b"@MFD1 STATUS AA== 78E789CE\n", 1: b"@MFD1 STATUS AQ== 64C12ABE\n",
    2: b"@MFD1 STATUS Ag== 4427B39C\n", 3: b"@MFD1 STATUS Aw== 580110EC\n",
    4: b"@MFD1 STATUS BA== 6A522620\n", 5: b"@MFD1 STATUS BQ== 76748550\n",
    6: b"@MFD1 STATUS Bg== 56921C72\n",
}


def board_frame(kind: str, payload: bytes = b"") -> bytes:
    body = kind.encode("ascii") + b" " + (base64.b64encode(payload) if payload else b"-")
    return b"@MFD1 " + body + b" %08X\n" % zlib.crc32(body)


def board_parse(line: bytes):
    """(kind, payload, raw line) of one received ``@MFD1`` line, or None when it is none."""
    start = line.find(b"@MFD1 ")
    if start < 0:
        return None
    raw = line[start:].rstrip(b"\r")
    fields = raw.split(b" ")
    if len(fields) != 4 or fields[3] != b"%08X" % zlib.crc32(fields[1] + b" " + fields[2]):
        return None
    payload = b"" if fields[2] == b"-" else base64.b64decode(fields[2], validate=True)
    return fields[1].decode("ascii"), payload, raw


class Received:
    def __init__(self, kind: str, payload: bytes, raw: bytes) -> None:
        self.kind, self.payload, self.raw = kind, payload, raw


def test_the_board_side_framing_gives_the_documented_bytes():
    assert board_frame("HELLO", b"\x01") == HELLO_V1 + b"\n"
    assert board_parse(b"log I: x " + HELLO_V1 + b"\r")[:2] == ("HELLO", b"\x01")
    assert board_parse(b"@MFD1 HELLO AQ== 44E24909") is None  # CRC off by one
    for status, frame in STATUS_FRAMES.items():
        assert board_frame("STATUS", bytes([status])) == frame


# --- a simulated board ---------------------------------------------------------------------

class Board(threading.Thread):
    """The device side: ``behaviour`` picks what the board does."""

    def __init__(self, behaviour: str, sn: str = "SN-0001", code: int = 0) -> None:
        super().__init__(daemon=True)
        self.behaviour, self.sn, self.code = behaviour, sn, code
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.stop = threading.Event()
        self.received: list = []
        self.raw: list = []  # the station's frames as received, bytes
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.gone = False

    def run(self) -> None:
        with contextlib.suppress(OSError):
            getattr(self, "_" + self.behaviour.replace("-", "_"))()

    def close(self) -> None:
        self.stop.set()
        self.join(5)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    # helpers
    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def frames(self):
        buffer = b""
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                buffer += os.read(self.master, 4096)
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    parsed = board_parse(line)
                    if parsed is not None:
                        self.received.append(parsed[0])
                        self.raw.append(parsed[2])
                        yield Received(*parsed)

    def send(self, kind: str, payload: bytes = b"") -> None:
        self.write(STATUS_FRAMES[payload[0]] if kind == "STATUS" else board_frame(kind, payload))

    def csr(self, *, key=None, vid=VID, pid=PID, extra=(), algorithm=None) -> bytes:
        key = key or self.key
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, "device"),
                      x509.NameAttribute(VID_OID, f"{vid:04X}"),
                      x509.NameAttribute(PID_OID, f"{pid:04X}"),
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, self.sn,
                                         _type=_ASN1Type.UTF8String), *extra]
        request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes)) \
            .sign(key, algorithm or hashes.SHA256())
        return request.public_bytes(serialization.Encoding.DER)

    def idle(self) -> None:
        while not self.stop.is_set():
            time.sleep(0.05)

    # ST's demo firmware: log text, then finish:NNN + NUL + 5 garbage bytes every 0.3 s
    def _st_demo(self) -> None:
        self.write(b"[M0] Provisioning start\r\n[M0] FACTORYDATA_Write\r\n")
        while not self.stop.is_set():
            frame = b"finish:%03u\x00" % self.code
            self.write(frame[:4])  # a frame split across reads
            time.sleep(0.02)
            self.write(frame[4:] + os.urandom(5) + b"debug trace\r\n")
            time.sleep(0.3)

    # our protocol
    def _healthy(self, csr=None, status=None) -> None:
        dac = pai = None
        for frame in self.frames():
            if frame.kind == "HELLO" and dac is None:
                self.write(b"I: provisioning mode, generating key\r\n")
                self.send("CSR", csr or self.csr())
            elif frame.kind == "DAC":
                dac = frame.payload
            elif frame.kind == "PAI":
                pai = frame.payload
                ok = x509.load_der_x509_certificate(dac).public_key().public_numbers() == \
                    self.key.public_key().public_numbers()
                self.send("STATUS", bytes([status if status is not None else
                                           (0 if ok else 3)]))
                self.dac, self.pai = dac, pai
            elif frame.kind == "ERROR":
                self.error = frame.payload.decode()
                self.send("STATUS", bytes([6]))

    def _failing(self) -> None:
        self._healthy(status=self.code or 2)

    def _other_curve(self) -> None:
        self._healthy(csr=self.csr(key=ec.generate_private_key(ec.SECP384R1())))

    def _bad_signature(self) -> None:
        der = bytearray(self.csr())
        der[-1] ^= 0x01
        self._healthy(csr=bytes(der))

    def _foreign_subject(self) -> None:
        self._healthy(csr=self.csr(vid=0x1234))

    def _sha224(self) -> None:
        self._healthy(csr=self.csr(algorithm=hashes.SHA224()))

    def _replay(self) -> None:  # sends a CSR it was given (another board's, or a clone's)
        self._healthy(csr=self.given_csr)

    def _slow_status(self) -> None:  # takes the DAC, never answers (station stopped meanwhile)
        for frame in self.frames():
            if frame.kind == "HELLO" and "CSR" not in self.__dict__:
                self.CSR = True
                self.send("CSR", self.csr())
            elif frame.kind == "DAC":
                self.dac = frame.payload

    def _vanish_after_dac(self) -> None:
        for frame in self.frames():
            if frame.kind == "HELLO" and "CSR" not in self.__dict__:
                self.CSR = True
                self.send("CSR", self.csr())
            elif frame.kind == "DAC":
                self.dac = frame.payload
                os.close(self.master)
                os.close(self.slave)
                self.gone = True
                return

    def _silent(self) -> None:
        self.idle()

    def _garbage(self) -> None:
        while not self.stop.is_set():
            self.write(os.urandom(64) + b"\n@MFD1 CSR AAAA 00000000\n")
            time.sleep(0.1)

    def _disappearing(self) -> None:
        for frame in self.frames():
            if frame.kind == "HELLO":
                os.close(self.master)  # unplugged
                os.close(self.slave)
                self.gone = True
                return


@pytest.fixture
def boards():
    made = []

    def make(behaviour, given_csr=None, key=None, **kwargs):
        board = Board(behaviour, **kwargs)
        board.given_csr = given_csr
        if key is not None:
            board.key = key
        made.append(board)
        board.start()
        return board

    yield make
    for board in made:
        board.close()


@pytest.fixture(scope="module")
def pai(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pai")
    paa_key, pai_key = certs.new_key(), certs.new_key()
    paa = certs.make_paa(key=paa_key, common_name="Test PAA", vendor_id=VID)
    pai_cert = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                              common_name="Test PAI", vendor_id=VID)
    (directory / "pai.der").write_bytes(certs.cert_der(pai_cert))
    (directory / "pai_key.der").write_bytes(certs.key_der(pai_key))
    return directory


def provision(cli, pai, manifest, ports, *extra):
    args = ["provision", "--manifest", manifest, "--pai_cert", pai / "pai.der",
            "--pai_key", pai / "pai_key.der", "--vendor_id", hex(VID), "--product_id", hex(PID),
            "--timeout", "1.5"]
    for port in ports:
        args += ["--port", port]
    return cli(*args, *extra)


def all_rows(manifest):
    with open(manifest, newline="") as stream:
        return list(csv.DictReader(stream))


def rows(manifest):
    """The outcome rows (not the write-ahead ``issued`` rows)."""
    return [row for row in all_rows(manifest) if row["status"] != "issued"]


# --- our CSR protocol ----------------------------------------------------------------------

def test_healthy_board_gets_its_dac_from_the_pai(cli, boards, pai, tmp_path):
    board = boards("healthy", sn="SN-42")
    result = provision(cli, pai, tmp_path / "m.csv", [board.path])
    assert result.code == 0, result.err
    [row] = rows(tmp_path / "m.csv")
    assert (row["port"], row["protocol"], row["sn"], row["status"], row["code"]) == \
        (board.path, "csr", "SN-42", "ok", "0")
    dac = x509.load_der_x509_certificate(board.dac)
    assert f"{dac.serial_number:x}" == row["dac_serial"]
    assert board.pai == (pai / "pai.der").read_bytes()
    certs.check_issued_by(dac, certs.load_certificate(board.pai, source="pai"),
                          child_source="dac", issuer_source="pai")
    assert certs.matter_ids(dac) == (VID, PID)
    assert result.out.splitlines()[0] == f"{board.path}: ok sn=SN-42 dac_serial=" \
                                         f"{row['dac_serial']} code=0"
    assert board.raw[0] == HELLO_V1  # the station's first frame, as documented
    assert board.received == ["HELLO", "DAC", "PAI"]


@pytest.mark.parametrize("behaviour, error", [
    ("other-curve", "CSR refused: the key is on curve secp384r1, not P-256 (secp256r1)"),
    ("bad-signature", "CSR refused: the signature does not verify with the request's own key"),
    ("foreign-subject", "CSR refused: foreign subject: vendor ID 1234, but this station issues "
                        "DACs for FFF1"),
    ("failing", "the device reports status 2 (storage write failed)"),
    ("silent", "no answer within 1.5 s (nothing received)"),
    ("garbage", "no valid answer within 1.5 s ("),
])
def test_a_bad_board_is_one_line_and_one_row(cli, boards, pai, tmp_path, behaviour, error):
    board = boards(behaviour)
    result = provision(cli, pai, tmp_path / "m.csv", [board.path])
    assert result.code == 1
    first = result.err.splitlines()[0]
    assert first.startswith(f"error: {board.path}: {error}")
    [row] = rows(tmp_path / "m.csv")
    assert row["status"] == "failed" and row["error"].startswith(error)
    if behaviour.startswith(("other", "bad", "foreign")):
        assert row["dac_serial"] == "" and "DAC" not in board.received
        deadline = time.monotonic() + 3
        while not hasattr(board, "error") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert board.error.startswith("CSR refused")  # the device was told why


def test_a_vanishing_board_is_one_line(cli, boards, pai, tmp_path):
    board = boards("disappearing")
    result = provision(cli, pai, tmp_path / "m.csv", [board.path])
    assert result.code == 1
    [row] = rows(tmp_path / "m.csv")
    assert row["status"] == "failed" and "vanished" in row["error"], row
    assert result.err.splitlines()[0] == f"error: {board.path}: {row['error']}"


def test_several_boards_at_once_each_with_its_outcome(cli, boards, pai, tmp_path):
    team = [boards("healthy", sn=f"SN-{i}") for i in range(4)] + \
        [boards("failing", sn="SN-F"), boards("silent"), boards("garbage"),
         boards("disappearing"), boards("foreign-subject", sn="SN-X")]
    started = time.monotonic()
    result = provision(cli, pai, tmp_path / "m.csv", [b.path for b in team])
    assert time.monotonic() - started < 8  # served at once, not one after the other
    assert result.code == 1
    by_port = {row["port"]: row for row in rows(tmp_path / "m.csv")}
    assert len(by_port) == len(team)
    assert [by_port[b.path]["status"] for b in team] == ["ok"] * 4 + ["failed"] * 5
    assert {by_port[b.path]["sn"] for b in team[:4]} == {"SN-0", "SN-1", "SN-2", "SN-3"}
    serials = [by_port[b.path]["dac_serial"] for b in team[:5]]
    assert len(set(serials)) == 5 and all(serials)
    assert "4 of 9 board(s) provisioned" in result.out


def test_dac_serials_of_the_manifest_are_never_issued_again(pai, tmp_path):
    from matter_factory_data.station.provision.issuer import CsrIssuer

    issuer = CsrIssuer(pai_cert=certs.load_certificate((pai / "pai.der").read_bytes(),
                                                       source="p"),
                       pai_key=certs.load_private_key((pai / "pai_key.der").read_bytes(),
                                                      source="k"),
                       vendor_id=VID, product_id=PID, used_serials=range(10))
    checked = issuer.check(Board("healthy").csr())
    serials = {issuer.issue(checked._replace(
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(), sn=f"SN-{i}")).serial
        for i in range(50)}
    assert len(serials) == 50 and not serials & set(range(10))


def test_ctrl_c_leaves_complete_rows(boards, pai, tmp_path):
    """Ctrl-C while boards are mid-session: every worker records its row, none is torn."""
    import _thread

    from matter_factory_data.errors import Interrupted
    from matter_factory_data.station.provision.command import ProvisionRequest, provision_command
    from matter_factory_data.ui import UI

    team = [boards("silent"), boards("healthy", sn="SN-A"), boards("silent")]
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    with pytest.raises(Interrupted):
        provision_command(ProvisionRequest(
            port=[b.path for b in team], manifest=str(tmp_path / "m.csv"),
            pai_cert=str(pai / "pai.der"), pai_key=str(pai / "pai_key.der"), vendor_id=VID,
            product_id=PID, timeout=30), UI())
    timer.cancel()
    raw = (tmp_path / "m.csv").read_bytes()
    assert raw.endswith(b"\n")
    by_port = {row["port"]: row for row in rows(tmp_path / "m.csv")}
    assert by_port[team[1].path]["status"] == "ok"
    assert by_port[team[0].path]["status"] == by_port[team[2].path]["status"] == "interrupted"


def test_a_torn_last_row_is_cut_before_appending(cli, boards, pai, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("time,port,protocol,sn,dac_serial,status,code,error\n"
                        "2024-01-01T00:00:00,/dev/x,csr,SN,abc,ok,0,\n2024-01-01T00:0")
    board = boards("healthy", sn="SN-B")
    assert provision(cli, pai, manifest, [board.path]).code == 0
    assert [r["sn"] for r in rows(manifest)] == ["SN", "SN-B"]


@pytest.mark.parametrize("args, message", [
    ([], "error: give --port PORT for each board"),
    (["--port", "a", "--port", "a"], "error: --port a is given twice"),
    (["--port", "a", "--protocol", "csr"], "error: --protocol csr needs --pai_cert, --pai_key, "
                                           "--vendor_id, --product_id"),
    (["--port", "a", "--timeout", "0"], "error: --timeout: 0 is not accepted"),
    (["--port", "a", "--protocol", "st-demo", "--pai_cert", "x"],
     "error: --pai_cert is for --protocol csr; ST's demo firmware provisions its compiled-in "
     "credentials"),
])
def test_bad_station_options(cli, tmp_path, args, message):
    result = cli("provision", "--manifest", tmp_path / "m.csv", *args)
    assert result.code == 2
    assert result.err.startswith(message) and result.err.count("\n") == 1
    assert not (tmp_path / "m.csv").exists()


def test_pai_of_another_vendor_is_refused(cli, pai, tmp_path):
    result = cli("provision", "--manifest", tmp_path / "m.csv", "--port", "x", "--pai_cert",
                 pai / "pai.der", "--pai_key", pai / "pai_key.der", "--vendor_id", "0x1234",
                 "--product_id", "1")
    assert result.code == 2
    assert "is for VID FFF1, not 1234/0001" in result.err


def test_a_port_that_does_not_exist_is_one_row(cli, pai, tmp_path):
    result = provision(cli, pai, tmp_path / "m.csv", [str(tmp_path / "ttyNONE")])
    assert result.code == 1
    [row] = rows(tmp_path / "m.csv")
    assert row["error"].startswith(f"cannot open {tmp_path / 'ttyNONE'}")


# --- ST's demo protocol ----------------------------------------------------------------------

def st_demo(cli, manifest, ports):
    args = ["provision", "--protocol", "st-demo", "--manifest", manifest, "--timeout", "1.5"]
    for port in ports:
        args += ["--port", port]
    return cli(*args)


def test_st_demo_several_boards(cli, boards, tmp_path):
    team = [boards("st-demo"), boards("st-demo", code=4), boards("silent"), boards("garbage"),
            boards("disappearing")]
    result = st_demo(cli, tmp_path / "m.csv", [b.path for b in team])
    assert result.code == 1
    by_port = {row["port"]: row for row in rows(tmp_path / "m.csv")}
    got = [(by_port[b.path]["status"], by_port[b.path]["code"]) for b in team]
    assert got == [("ok", "0"), ("failed", "4"), ("failed", ""), ("failed", ""),
                   ("failed", "")]
    errors = [by_port[b.path]["error"] for b in team]
    assert errors[1] == "the board reports finish:004 (key storage (CKS) write error)"
    assert errors[2] == "nothing received within 1.5 s (is the board running the " \
                        "provisioning firmware?)"
    assert errors[3].startswith("no finish:NNN frame within 1.5 s (")
    assert "vanished" in errors[4] or errors[4].startswith(("nothing received", "no finish"))


def test_frame_codec():
    line = framing.encode_frame("DAC", b"\x30\x82")
    assert line == b"@MFD1 DAC MII= %08X\n" % zlib.crc32(b"DAC MII=")
    reader = framing.FrameReader()
    out = reader.feed(b"log line\r\nI: x @MFD1 HELLO - " + b"%08X" % zlib.crc32(b"HELLO -")
                      + b"\r\n" + line[:5])
    out += reader.feed(line[5:] + b"@MFD1 DAC MII= 00000000\n")
    assert out == [framing.Frame("HELLO", b""), framing.Frame("DAC", b"\x30\x82"),
                   framing.BadFrame("CRC mismatch on a 'DAC' frame")]
    assert reader.other_bytes == len(b"log line\r\nI: x ")
    assert base64.b64encode(b"\x30\x82") == b"MII="
