/**
 * Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation-02),
 * what BBR measures the path with. Each transmission is stamped with how
 * much had been delivered by then and when; when a segment is delivered
 * (cumulatively or by SACK), the data delivered since its stamp over the
 * longer of its send phase and its ACK phase is one sample of the rate.
 * Taking the longer phase keeps a burst of stretched or compressed ACKs
 * from reading as a faster path than it is. The transmission log
 * (`../loss/rack.ts`) keeps the stamps per range and calls `delivered`.
 * Time in ms.
 *
 * @module
 */

/** One rate sample (the draft's `rs`), rebuilt for every ACK. */
export interface RateSample {
  /** Bytes this ACK delivered, cumulatively or by SACK. */
  newlyDelivered: number;
  /** Bytes delivered over the sample's interval. */
  delivered: number;
  /** The interval, ms: the longer of the send and the ACK phase. */
  interval: number;
  /** Delivery rate, bytes per ms; 0 when the interval cannot be trusted. */
  rate: number;
  /** Round trip of the most recently sent delivered range, ms, or -1 (a retransmission). */
  rtt: number;
  /** C.delivered when that range was sent: rounds are counted with it. */
  priorDelivered: number;
  /** It was sent while the application left the window unfilled. */
  appLimited: boolean;
}

/**
 * The connection's side of the estimator (the draft's `C.*`) and the
 * sample being built for the current ACK.
 *
 * @example
 * ```ts
 * import { DeliveryRate } from "./delivery_rate.ts";
 * const r = new DeliveryRate();
 * r.restart(0); // first send with nothing in flight
 * // 10,000 bytes sent at t = 0 (stamps: 0 delivered, at 0, first sent 0),
 * // delivered at t = 2:
 * r.delivered(10_000, 2, 1, 0, 0, 0, 0, false);
 * const s = r.take(1)!;
 * s.rate; // 5000: bytes per ms
 * s.rtt; // 2
 * ```
 */
export class DeliveryRate {
  /** C.delivered: bytes delivered so far. */
  deliveredBytes = 0;
  /** C.delivered_time: when the last delivery was seen, ms. */
  deliveredTime = 0;
  /** C.first_sent_time: send time of the range the last sample ended at, ms. */
  firstSentTime = 0;
  /** C.app_limited: the delivered count that ends an application-limited stretch, 0 for none. */
  appLimitedUntil = 0;
  /** The sample, valid after `take` returns it. */
  readonly sample: RateSample = {
    newlyDelivered: 0,
    delivered: 0,
    interval: 0,
    rate: 0,
    rtt: -1,
    priorDelivered: 0,
    appLimited: false,
  };
  #newest = -1; // send order of the most recently sent range this ACK delivered
  #taken = true; // the sample was handed out: the next delivery starts a new one
  #priorTime = 0;
  #sendElapsed = 0;

  /** A send with nothing in flight: the phases start now (draft 3.2). */
  restart(now: number): void {
    this.firstSentTime = this.deliveredTime = now;
  }

  /** Whether sends now belong to an application-limited stretch. */
  get appLimited(): boolean {
    return this.appLimitedUntil !== 0;
  }

  /**
   * The sender has nothing more to send and the window is not full (draft
   * 3.4): samples until `inflight` more bytes are delivered understate the
   * path.
   */
  markAppLimited(inflight: number): void {
    this.appLimitedUntil = this.deliveredBytes + inflight || 1;
  }

  /**
   * `bytes` of a range sent at `sentTime` (send order `order`) were
   * delivered at `now`; the rest are the range's stamps from when it was
   * sent. `retransmitted`: its round trip is ambiguous.
   */
  delivered(
    bytes: number,
    now: number,
    order: number,
    sentTime: number,
    stampDelivered: number,
    stampTime: number,
    stampFirstSent: number,
    stampAppLimited: boolean,
    retransmitted = false,
  ): void {
    const s = this.sample;
    if (this.#taken) {
      this.#taken = false;
      s.newlyDelivered = 0;
    }
    this.deliveredBytes += bytes;
    this.deliveredTime = now;
    s.newlyDelivered += bytes;
    if (order <= this.#newest) return;
    // Draft 3.3: the sample runs from the newest range's stamps.
    this.#newest = order;
    s.priorDelivered = stampDelivered;
    s.appLimited = stampAppLimited;
    s.rtt = retransmitted ? -1 : now - sentTime;
    this.#priorTime = stampTime;
    this.#sendElapsed = sentTime - stampFirstSent;
    this.firstSentTime = sentTime;
  }

  /**
   * Ends the current ACK: returns its sample, or undefined when it
   * delivered nothing. An interval shorter than `minRtt` cannot hold a
   * round trip's worth of ACKs, so its rate is 0 (draft 3.3).
   */
  take(minRtt: number): RateSample | undefined {
    if (this.appLimitedUntil !== 0 && this.deliveredBytes > this.appLimitedUntil) {
      this.appLimitedUntil = 0;
    }
    if (this.#newest === -1) return undefined;
    const s = this.sample;
    s.delivered = this.deliveredBytes - s.priorDelivered;
    s.interval = Math.max(this.#sendElapsed, this.deliveredTime - this.#priorTime);
    s.rate = s.interval > 0 && s.interval >= minRtt ? s.delivered / s.interval : 0;
    this.#newest = -1;
    this.#taken = true;
    return s;
  }
}
