"""The provisioning station: several STM32 boards at once, one worker per serial port.

Layers, each replaceable:

* ``transport``: bytes over a serial port (pyserial); a vanished port raises ``PortGone``;
* ``framing``: our frame codec (``@MFD1 KIND BASE64 CRC32``, one line each) and its reader,
  which skips the firmware's debug text sharing the UART; a vendor's framing can replace it;
* ``protocol``: ST's one-way demo protocol (``finish:NNN``) and our production protocol
  (CSR -> DAC + PAI -> final status), each a session over a transport that returns an
  :class:`~.outcome.Outcome`;
* ``issuer``: checks a device's PKCS#10 CSR (curve, signature, subject) and issues its DAC
  from the PAI with a unique serial number; knows nothing of ports or frames;
* ``station``: the workers, the manifest (one complete CSV row per device, appended under a
  lock), Ctrl-C handling; ``command``: the ``provision`` command body.
"""
