/**
 * TCP counters. Names in `freebsd` follow FreeBSD's `tcpstat` (tcps_*), so
 * numbers can be compared with `netstat -s -p tcp`; every drop has a reason.
 *
 * @module
 */

/**
 * A fresh counter tree.
 *
 * @example
 * ```ts
 * import { newTcpStats } from "./stats.ts";
 * newTcpStats().dropped.badChecksum; // 0
 * ```
 */
export function newTcpStats() {
  return {
    activeOpens: 0,
    passiveOpens: 0,
    established: 0,
    currentConnections: 0,
    /** Segments from IP: the wire drops, noSocket, and `demux` add up to it. */
    segmentsReceived: 0,
    /** Where valid segments went. */
    demux: {
      connection: 0,
      timeWait: 0,
      listener: 0,
    },
    bytesReceived: 0,
    bytesSent: 0,
    dataSegmentsSent: 0,
    retransmittedSegments: 0,
    retransmittedBytes: 0,
    fastRetransmits: 0,
    sackRecoveries: 0,
    /** RACK (RFC 8985): ACKs or reordering timeouts that judged segments lost. */
    rackLosses: 0,
    /** Tail loss probes sent (RFC 8985 7). */
    tailLossProbes: 0,
    /** Probes that repaired a tail loss (no D-SACK for them). */
    tlpRecoveries: 0,
    /** ACKs with a D-SACK block (RFC 2883): a duplicate reached the peer. */
    dsacksReceived: 0,
    /** Recoveries found spurious by D-SACK and their window reduction undone. */
    recoveriesUndone: 0,
    timeouts: 0,
    /** Of those, found spurious by Eifel (RFC 3522) and undone (RFC 4015). */
    spuriousTimeouts: 0,
    synRetransmits: 0,
    /** A peer's SYN came again in SYN-RECEIVED; our SYN,ACK was re-sent. */
    synRetransmitsAnswered: 0,
    dupAcksReceived: 0,
    outOfOrderSegments: 0,
    duplicateSegments: 0,
    delayedAcks: 0,
    windowProbes: 0,
    keepaliveProbes: 0,
    resetsReceived: 0,
    resetsSent: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    /** SYN cookies (RFC 4987): sent when a backlog is full; ACKs that held a good or bad one. */
    synCookies: {
      sent: 0,
      accepted: 0,
      rejected: 0,
    },
    /** ICMP errors about our segments: icmp.errors (TCP's) add up to these. */
    icmp: {
      /** Path MTU lowered: the MSS shrank and what was in flight was resent. */
      pmtuLowered: 0,
      /** A "too big" that asked for no less than the MSS in use. */
      pmtuUnchanged: 0,
      /** A connection in SYN-SENT refused (port/protocol unreachable, prohibited). */
      refused: 0,
      /** Soft errors, kept for the report if the connection times out. */
      soft: 0,
      /** The quoted sequence number was not in flight (RFC 5927). */
      outOfWindow: 0,
      /** No connection has the quoted 4-tuple. */
      noConnection: 0,
    },
    /** HyStart++ (RFC 9406) in first slow starts. */
    hystart: { cssEntered: 0, cssSpurious: 0, exits: 0 },
    /** ECN (RFC 3168). */
    ecn: {
      /** Connections that agreed to it in their handshake. */
      negotiated: 0,
      /** Segments that arrived marked CE (Congestion Experienced). */
      ceReceived: 0,
      /** ACKs with ECN-Echo. */
      echoesReceived: 0,
      /** ECN-Echoes acted on, at most one per window of data: cwnd cut (not under BBR), CWR sent. */
      responses: 0,
      /** Segments sent with CWR, and received with it. */
      cwrSent: 0,
      cwrReceived: 0,
    },
    /** Congestion-window validation (RFC 7661, RFC 5681 4.1). */
    cwndValidation: {
      /** ACKs that grew no window: less than half of it was in flight. */
      appLimitedAcks: 0,
      /** Windows brought back to the initial one after idleness. */
      idleRestarts: 0,
    },
    /**
     * Socket-buffer autosizing (FreeBSD's recvbuf_auto, sendbuf_auto): steps
     * up, and the bytes the live connections' buffers have grown by
     * together (held under net.inet.tcp.autosize_budget).
     */
    bufferAutosize: { receive: 0, send: 0, bytes: 0 },
    /** Path-MTU black-hole detection (FreeBSD's tcps_pmtud_blackhole_*). */
    pmtudBlackhole: {
      /** The MSS was lowered to the black-hole MSS after timeouts. */
      activated: 0,
      /** ... and again to the protocol's minimum. */
      activatedMinMss: 0,
      /** Smaller segments timed out too: the old MSS was put back. */
      failed: 0,
    },
    connectionsRefused: 0,
    connectionsAborted: 0,
    connectionsTimedOut: 0,
    /** Of those, by the user timeout (no progress on sent data). */
    userTimeouts: 0,
    /** FreeBSD's tcpstat names for what the TIME_WAIT manager reports. */
    freebsd: {
      /** Connections closed (including drops and TIME_WAIT records ending). */
      tcps_closed: 0,
      /** Segments sent. */
      tcps_sndtotal: 0,
      /** ACK-only segments sent. */
      tcps_sndacks: 0,
      /** Control segments (SYN, FIN, RST) without data. */
      tcps_sndctrl: 0,
    },
    dropped: {
      truncated: 0,
      badDataOffset: 0,
      badChecksum: 0,
      badOption: 0,
      multicast: 0,
      /** SYN and FIN together, with drop_synfin on. */
      synFin: 0,
      noSocket: 0,
      /** For a socket with an MD5 key (RFC 2385): no signature, or a wrong one. */
      md5Missing: 0,
      md5Bad: 0,
      listenBadFlags: 0,
      listenOverflow: 0,
      acceptOverflow: 0,
      tooManyConnections: 0,
      synSentBadAck: 0,
      synSentNoSyn: 0,
      outOfWindow: 0,
      paws: 0,
      missingTimestamp: 0,
      rstInWindow: 0,
      synInWindow: 0,
      noAck: 0,
      ackTooNew: 0,
      ackTooOld: 0,
      badAckInSynReceived: 0,
      dataAfterClose: 0,
      beyondWindow: 0,
      receiveBufferFull: 0,
      outOfOrderLimit: 0,
      urgentIgnored: 0,
    },
  };
}

/** The TCP counters. */
export type TcpStats = ReturnType<typeof newTcpStats>;
