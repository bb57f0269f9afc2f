/**
 * TCP connection states (RFC 9293 3.3.2).
 *
 * @module
 */

/** A connection state. */
export type TcpState =
  | "CLOSED"
  | "LISTEN"
  | "SYN-SENT"
  | "SYN-RECEIVED"
  | "ESTABLISHED"
  | "FIN-WAIT-1"
  | "FIN-WAIT-2"
  | "CLOSE-WAIT"
  | "CLOSING"
  | "LAST-ACK"
  | "TIME-WAIT";

/**
 * Whether the state is synchronized (RFC 9293 3.5.2: after the handshake).
 *
 * @example
 * ```ts
 * import { isSynchronized } from "./state.ts";
 * isSynchronized("ESTABLISHED"); // true
 * ```
 */
export function isSynchronized(s: TcpState): boolean {
  return s !== "CLOSED" && s !== "LISTEN" && s !== "SYN-SENT" && s !== "SYN-RECEIVED";
}

/**
 * Whether we may still receive data in this state (RFC 9293 3.10.7.4, seventh).
 *
 * @example
 * ```ts
 * import { receivesData } from "./state.ts";
 * receivesData("FIN-WAIT-2"); // true
 * ```
 */
export function receivesData(s: TcpState): boolean {
  return s === "ESTABLISHED" || s === "FIN-WAIT-1" || s === "FIN-WAIT-2";
}
