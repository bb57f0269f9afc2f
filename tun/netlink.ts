/**
 * Configures an interface in-process over rtnetlink: MTU, link up, and
 * addresses (IPv6 without duplicate address detection). No `ip` commands.
 *
 * @module
 */

import { cString, Errno, errno, libc, SyscallError } from "./_libc.ts";

const AF_NETLINK = 16;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const RTM_NEWLINK = 16;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const NLM_F_DUMP = 0x300;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLMSG_ERROR = 2;
const IFLA_MTU = 4;
const IFLA_TXQLEN = 13;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
const IFA_F_NODAD = 0x02;
const IFF_UP = 0x1;

/** An address with its prefix length, as raw bytes (4 for IPv4, 16 for IPv6). */
export interface InterfaceAddress {
  /** 4 or 16 bytes. */
  bytes: Uint8Array;
  /** Prefix length. */
  prefix: number;
}

/** An address configured on an interface of this namespace. */
export interface ConfiguredAddress extends InterfaceAddress {
  /** Interface index. */
  index: number;
  /** Interface name. */
  name: string;
}

/**
 * The name of interface `index`, or `#index` if it has gone.
 *
 * @example
 * ```ts
 * import { ifName } from "./netlink.ts";
 * ifName(1); // "lo"
 * ```
 */
export function ifName(index: number): string {
  const buf = new Uint8Array(16);
  if (libc().if_indextoname(index, buf) === null) return `#${index}`;
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? 16 : end));
}

/**
 * Looks up an interface index; 0 when there is none.
 *
 * @example
 * ```ts
 * import { ifIndex } from "./netlink.ts";
 * ifIndex("lo"); // 1 on most systems
 * ```
 */
export function ifIndex(name: string): number {
  return libc().if_nametoindex(cString(name));
}

/**
 * A route netlink socket. Each request waits for the kernel's ACK, so a
 * refusal surfaces as an error with the kernel's reason.
 *
 * @example
 * ```ts ignore
 * const nl = Netlink.open();
 * nl.setLink(ifIndex("tunstack0"), { mtu: 1500, up: true });
 * nl.close();
 * ```
 */
export class Netlink {
  #fd: number;
  #seq = 1;
  #rx = new Uint8Array(65536); // a dump part is at most a page or two

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens and binds the socket. */
  static open(): Netlink {
    const c = libc();
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw new SyscallError("socket AF_NETLINK", errno());
    const sa = new Uint8Array(12);
    new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
    if (c.bind(fd, sa, 12) < 0) {
      const e = errno();
      c.close(fd);
      throw new SyscallError("bind netlink", e);
    }
    return new Netlink(fd);
  }

  /** Sets the MTU, the transmit queue length (packets), and/or brings the link up. */
  setLink(index: number, opts: { mtu?: number; txQueueLen?: number; up?: boolean }): void {
    const attrs: Uint8Array[] = [];
    if (opts.mtu !== undefined) attrs.push(attrU32(IFLA_MTU, opts.mtu));
    if (opts.txQueueLen !== undefined) attrs.push(attrU32(IFLA_TXQLEN, opts.txQueueLen));
    const body = new Uint8Array(16);
    const v = new DataView(body.buffer);
    v.setUint8(0, 0); // AF_UNSPEC
    v.setInt32(4, index, true);
    if (opts.up !== undefined) {
      v.setUint32(8, opts.up ? IFF_UP : 0, true);
      v.setUint32(12, IFF_UP, true);
    }
    this.#request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, body, attrs, "set link");
  }

  /** Adds an address to an interface (IPv6 with `IFA_F_NODAD`). */
  addAddress(index: number, addr: InterfaceAddress): void {
    const v6 = addr.bytes.length === 16;
    const body = new Uint8Array(8);
    const v = new DataView(body.buffer);
    v.setUint8(0, v6 ? AF_INET6 : AF_INET);
    v.setUint8(1, addr.prefix);
    v.setUint32(4, index, true);
    const attrs = [attr(IFA_LOCAL, addr.bytes), attr(IFA_ADDRESS, addr.bytes)];
    if (v6) attrs.push(attrU32(IFA_FLAGS, IFA_F_NODAD));
    this.#request(
      RTM_NEWADDR,
      NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
      body,
      attrs,
      "add address",
    );
  }

  /** Every IPv4 and IPv6 address in the namespace (RTM_GETADDR dump). */
  addresses(): ConfiguredAddress[] {
    const body = new Uint8Array(8); // struct ifaddrmsg, AF_UNSPEC: both families
    const out: ConfiguredAddress[] = [];
    this.#request(
      RTM_GETADDR,
      NLM_F_REQUEST | NLM_F_DUMP,
      body,
      [],
      "list addresses",
      (v, p, len) => {
        const family = v.getUint8(p + 16);
        if (family !== AF_INET && family !== AF_INET6) return;
        const prefix = v.getUint8(p + 17);
        const index = v.getUint32(p + 20, true);
        let local: Uint8Array | undefined, address: Uint8Array | undefined;
        for (let a = p + 24; a + 4 <= p + len;) {
          const alen = v.getUint16(a, true), type = v.getUint16(a + 2, true);
          if (alen < 4) break;
          const data = new Uint8Array(
            v.buffer.slice(v.byteOffset + a + 4, v.byteOffset + a + alen),
          );
          if (type === IFA_LOCAL) local = data;
          else if (type === IFA_ADDRESS) address = data;
          a += (alen + 3) & ~3;
        }
        const bytes = local ?? address;
        if (bytes) out.push({ index, name: ifName(index), bytes, prefix });
      },
    );
    return out;
  }

  /** Closes the socket. */
  close(): void {
    libc().close(this.#fd);
  }

  #request(
    type: number,
    flags: number,
    body: Uint8Array,
    attrs: Uint8Array[],
    what: string,
    // For a dump: each answer message, until NLMSG_DONE.
    onMessage?: (v: DataView, offset: number, len: number) => void,
  ) {
    const len = 16 + body.length + attrs.reduce((n, a) => n + a.length, 0);
    const msg = new Uint8Array(len);
    const v = new DataView(msg.buffer);
    const seq = this.#seq++;
    v.setUint32(0, len, true);
    v.setUint16(4, type, true);
    v.setUint16(6, flags, true);
    v.setUint32(8, seq, true);
    msg.set(body, 16);
    let off = 16 + body.length;
    for (const a of attrs) {
      msg.set(a, off);
      off += a.length;
    }
    const c = libc();
    if (c.send(this.#fd, msg, BigInt(len), 0) < 0) {
      throw new SyscallError("netlink send", errno(), `Cannot ${what}`);
    }
    for (;;) {
      const n = c.recv(this.#fd, this.#rx, BigInt(this.#rx.length), 0);
      if (n < 0) {
        const e = errno();
        if (e === Errno.EINTR) continue;
        throw new SyscallError("netlink recv", e, `Cannot ${what}`);
      }
      const rv = new DataView(this.#rx.buffer, 0, n);
      for (let p = 0; p + 16 <= n;) {
        const mlen = rv.getUint32(p, true);
        const mtype = rv.getUint16(p + 4, true);
        const mseq = rv.getUint32(p + 8, true);
        if (mtype === NLMSG_ERROR && mseq === seq) {
          const code = -rv.getInt32(p + 16, true);
          if (code !== 0) throw new SyscallError("netlink", code, `Cannot ${what}`);
          return;
        }
        if (mlen < 16) break;
        if (onMessage && mseq === seq) {
          if (mtype === NLMSG_DONE) return;
          onMessage(rv, p, mlen);
        }
        p += (mlen + 3) & ~3;
      }
    }
  }
}

function attr(type: number, data: Uint8Array): Uint8Array {
  const len = 4 + data.length;
  const out = new Uint8Array((len + 3) & ~3);
  const v = new DataView(out.buffer);
  v.setUint16(0, len, true);
  v.setUint16(2, type, true);
  out.set(data, 4);
  return out;
}

function attrU32(type: number, value: number): Uint8Array {
  const d = new Uint8Array(4);
  new DataView(d.buffer).setUint32(0, value, true);
  return attr(type, d);
}
