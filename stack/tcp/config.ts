/**
 * TCP settings with their defaults.
 *
 * @module
 */

import type { CongestionName } from "./congestion.ts";

/** Tunable TCP settings. */
export interface TcpConfig {
  /** Receive buffer per connection, bytes (sets the advertised window). */
  rcvBuf: number;
  /** Send buffer per connection, bytes. */
  sndBuf: number;
  /** Congestion control for new connections. */
  congestion: CongestionName;
  /** Offer and use SACK (RFC 2018). */
  sack: boolean;
  /** Offer and use timestamps (RFC 7323). */
  timestamps: boolean;
  /** Offer window scaling (RFC 7323). */
  windowScale: boolean;
  /** Delayed-ACK timeout, ms (RFC 9293 3.8.6.3: under 0.5 s). */
  delayedAckMs: number;
  /** SYN retransmissions before giving up. */
  synRetries: number;
  /** Data retransmissions before giving up (RFC 9293 3.8.3 R2). */
  dataRetries: number;
  /** Keepalive idle time, ms (RFC 9293 3.8.4: at least two hours by default). */
  keepIdleMs: number;
  /** Keepalive probe interval, ms. */
  keepIntervalMs: number;
  /** Unanswered keepalive probes before the connection is dropped. */
  keepCount: number;
  /** Default SYN backlog (half-open connections) per listener (Linux somaxconn). */
  synBacklog: number;
  /** Default accept queue length per listener. */
  acceptBacklog: number;
  /** Most connections the stack holds (FreeBSD's maxsockets). */
  maxConnections: number;
  /** First ephemeral port. */
  ephemeralLow: number;
  /** Last ephemeral port. */
  ephemeralHigh: number;
  /** Challenge ACKs per second (RFC 5961 7), across the stack. */
  challengeAckLimit: number;
  /** FIN-WAIT-2 timeout after the application closed, ms. */
  finWait2TimeoutMs: number;
}

/** The defaults. */
export const DEFAULT_TCP_CONFIG: TcpConfig = {
  rcvBuf: 1 << 20,
  sndBuf: 1 << 20,
  congestion: "newreno",
  sack: true,
  timestamps: true,
  windowScale: true,
  delayedAckMs: 40,
  synRetries: 6,
  dataRetries: 15,
  keepIdleMs: 2 * 3600_000,
  keepIntervalMs: 75_000,
  keepCount: 9,
  synBacklog: 4096,
  acceptBacklog: 4096,
  maxConnections: 65536,
  ephemeralLow: 49152,
  ephemeralHigh: 65535,
  challengeAckLimit: 1000,
  finWait2TimeoutMs: 60_000,
};
