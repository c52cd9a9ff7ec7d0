#include "datapath/payload_renderer.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace portcullis::datapath {
namespace {

// xt_comment holds 256 bytes; rule names are user text, so keep them printable and unquoted.
std::string comment(std::string_view text) {
  std::string clean;
  for (char c : text.substr(0, 200)) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == ' ';
    clean += safe ? c : '_';
  }
  return "-m comment --comment \"" + std::string(kCommentPrefix) + " " + clean + "\"";
}

std::string hex(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", value);
  return buf;
}

std::string quoted(std::string_view word) {
  if (word.find_first_of(" \t\"") == std::string_view::npos) return std::string(word);
  std::string out = "\"";
  for (char c : word) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

const std::string kUnclassified = "-m mark --mark 0x0/0xf00";

std::vector<Cidr> ofFamily(const std::vector<Cidr>& cidrs, Family family) {
  std::vector<Cidr> out;
  for (const auto& c : cidrs)
    if (c.family() == family) out.push_back(c);
  return out;
}

// The optional parts of a rule: an empty string stands for "no such match".
std::vector<std::string> alternatives(const std::vector<std::string>& parts) {
  return parts.empty() ? std::vector<std::string>{""} : parts;
}

// Where a classification's rules go. PREROUTING traffic is classified in raw, so that the
// to-proxy NOTRACK after it sees the listener's mark (raw runs before conntrack, mangle after).
// Local processes are classified in mangle OUTPUT, the only place a mark change reroutes the
// packet; a twin rule in raw OUTPUT exempts the same packets from conntrack.
struct ClassifiedRules {
  std::vector<std::string>& pre_raw;
  std::vector<std::string>& output_raw;
  std::vector<std::string>& output_mangle;
};

void classify(const DatapathPlan& plan, const Classification& c, Family family, ClassifiedRules out) {
  const Listener* listener = plan.findListener(c.listener);
  if (listener == nullptr) return;  // the builder guarantees it exists; nothing to send it to
  // A selector with addresses of only the other family has nothing to match here.
  const auto sources = ofFamily(c.sources, family);
  const auto destinations = ofFamily(c.destinations, family);
  if ((!c.sources.empty() && sources.empty()) || (!c.destinations.empty() && destinations.empty()))
    return;
  std::vector<std::string> src, dst, dev, owner;
  for (const auto& s : sources) src.push_back("-s " + s.toString() + " ");
  for (const auto& d : destinations) dst.push_back("-d " + d.toString() + " ");
  const char* dev_flag = c.local() ? "-o " : "-i ";
  for (const auto& i : c.interfaces) dev.push_back(dev_flag + quoted(i) + " ");
  for (const auto& g : c.cgroups) owner.push_back("-m cgroup --path " + quoted(g) + " ");
  for (uint32_t u : c.uids) owner.push_back("-m owner --uid-owner " + std::to_string(u) + " ");
  const std::string proto = toString(c.protocol);
  const std::string port = "-p " + proto + " -m " + proto + " --dport " + std::to_string(c.port) + " ";
  const std::string what = std::string(toString(c.direction)) + " " + c.rule;
  const std::string mark = kUnclassified + " " + comment("classify " + what) + " -j MARK --set-xmark " +
                           hex(listener->mark()) + "/0xffffffff";
  const std::string notrack = kUnclassified + " " + comment("notrack " + what) + " -j CT --notrack";
  // The order of the flags is iptables-save's, so the read-back form rarely differs.
  for (const auto& s : alternatives(src))
    for (const auto& d : alternatives(dst))
      for (const auto& i : alternatives(dev))
        for (const auto& o : alternatives(owner)) {
          const std::string match = s + d + i + port + o;
          if (!c.local()) {
            out.pre_raw.push_back("-A PORTCULLIS_PRE_raw " + match + mark);
            continue;
          }
          out.output_raw.push_back("-A PORTCULLIS_OUTPUT_raw " + match + notrack);
          out.output_mangle.push_back("-A PORTCULLIS_OUTPUT_mangle " + match + mark);
        }
}

void tproxy(const DatapathPlan& plan, Family family, std::vector<std::string>& pre) {
  const std::string on_ip = (family == Family::kV4 ? plan.bind_v4 : plan.bind_v6).toString();
  for (const auto& l : plan.listeners) {
    for (IpProtocol p : {IpProtocol::kTcp, IpProtocol::kUdp}) {
      if ((p == IpProtocol::kTcp && !l.tcp) || (p == IpProtocol::kUdp && !l.udp)) continue;
      pre.push_back("-A PORTCULLIS_PRE_mangle -p " + std::string(toString(p)) + " -m mark --mark " +
                    hex(l.mark()) + " " + comment("tproxy " + l.name) + " -j TPROXY --on-port " +
                    std::to_string(l.port) + " --on-ip " + on_ip + " --tproxy-mark 0x200/0xffffffff");
    }
  }
}

struct TableEdits {
  std::vector<std::string> declare, deletes, drops, inserts, appends;
};

std::string assemble(std::map<std::string, TableEdits>& tables) {
  // raw and mangle first, as a reader expects; leftovers in other tables after them.
  std::vector<std::string> order;
  for (const char* t : {"raw", "mangle"})
    if (tables.count(t)) order.push_back(t);
  for (const auto& [name, edits] : tables)
    if (name != "raw" && name != "mangle") order.push_back(name);
  std::string out;
  for (const auto& name : order) {
    const TableEdits& e = tables[name];
    out += "*" + name + "\n";
    for (const auto& c : e.declare) out += ":" + c + " - [0:0]\n";
    for (const auto& d : e.deletes) out += d + "\n";
    for (const auto& d : e.drops) out += "-F " + d + "\n";
    for (const auto& d : e.drops) out += "-X " + d + "\n";
    for (const auto& i : e.inserts) out += i + "\n";
    for (const auto& a : e.appends) out += a + "\n";
    out += "COMMIT\n";
  }
  return out;
}

const OurChain* findOurChain(std::string_view table, std::string_view name) {
  for (const auto& c : kOurChains)
    if (c.table == table && c.name == name) return &c;
  return nullptr;
}

// Everything of ours in `current` except what `keep_ours` keeps: our four chains (refilled
// elsewhere) and one exact jump to each.
PayloadEdits leftovers(const IptablesState& current, bool keep_ours,
                       std::vector<std::string_view>& present_jumps) {
  PayloadEdits edits;
  for (const auto& table : current.tables) {
    for (const auto& rule : table.rules) {
      if (isOurChain(rule.chain) || !isOurRule(rule)) continue;
      const auto target = jumpTarget(rule.spec);
      const OurChain* ours = target ? findOurChain(table.name, *target) : nullptr;
      const bool exact = ours && rule.chain == ours->builtin && rule.spec == jumpSpec(*ours);
      if (keep_ours && exact &&
          std::find(present_jumps.begin(), present_jumps.end(), ours->name) == present_jumps.end()) {
        present_jumps.push_back(ours->name);
        continue;
      }
      edits.deletes.push_back({table.name, rule});
    }
    for (const auto& chain : table.chains) {
      if (!isOurChain(chain) || (keep_ours && findOurChain(table.name, chain))) continue;
      edits.drop_chains.push_back({table.name, IptablesRule{chain, ""}});
    }
  }
  return edits;
}

}  // namespace

const char* toString(IpProtocol p) { return p == IpProtocol::kTcp ? "tcp" : "udp"; }
const char* toString(TrafficDirection d) {
  return d == TrafficDirection::kEgress ? "egress" : "ingress";
}

std::string jumpSpec(const OurChain& chain) {
  return comment("jump") + " -j " + std::string(chain.name);
}

std::vector<ChainContent> renderChains(const DatapathPlan& plan, Family family) {
  std::vector<std::string> pre_raw, output_raw, pre, output;
  const std::string to_proxy = "-m mark --mark " + hex(kMarkToProxy) + "/" + hex(kMarkMagicMask);
  const std::string proxy_mark = hex(kMarkFromProxy) + "/" + hex(kMarkFromProxyMask);
  const std::string from_proxy = "-m mark --mark " + proxy_mark;
  const std::string notrack = " -j CT --notrack";
  // raw OUTPUT: what the proxy sends (upstream connections, and the answers of its listeners
  // and DNS reply sockets, kMarkProxyAnswer) is never tracked, nor are the packets of local
  // processes on their way to the proxy (their classification follows, in mangle). Except an
  // upstream connection to the node itself: the local server answers from a socket without
  // our mark, which no rule can find in OUTPUT (xt_socket works in PREROUTING and INPUT only),
  // so that hop is tracked from its first packet, as any local connection, rather than its
  // answers being INVALID. It passes lo's PREROUTING with its entry (loopback keeps it), where
  // the NOTRACK rules no longer apply. The answering sockets' mark differs from the upstream
  // mark so that their answers to a local client, whose own packets were not tracked, stay
  // untracked too. `-o lo` first (what goes to a local address is routed to lo): the other
  // upstream packets are passed over by the rule's basic match, without the mark match or
  // addrtype's address lookup (for IPv6 a route lookup) for each of them.
  output_raw.push_back("-A PORTCULLIS_OUTPUT_raw -o lo -m mark --mark " + hex(kMarkFromProxy) +
                       " -m addrtype --dst-type LOCAL " + comment("track upstream to local") +
                       " -j RETURN");
  output_raw.push_back("-A PORTCULLIS_OUTPUT_raw " + from_proxy + " " + comment("notrack from-proxy") +
                       notrack);
  // raw PREROUTING: classification (the first matching selector wins; packets already marked,
  // to-proxy or from-proxy, are never classified), then NOTRACK of what is going to the proxy.
  for (const auto& c : plan.classifications) classify(plan, c, family, {pre_raw, output_raw, output});
  pre_raw.push_back("-A PORTCULLIS_PRE_raw " + to_proxy + " " + comment("notrack to-proxy") + notrack);
  // Replies to the proxy's upstream sockets: their SYN left untracked (from-proxy), so the
  // server's SYN-ACK would be INVALID to conntrack, which hardened hosts drop, and later
  // segments would be picked up as new entries. xt_socket finds the local socket a packet is
  // for and copies that socket's mark to the packet; the rest of the rule puts the mark back
  // to 0 unless it is the proxy's, so only packets for the proxy's own sockets are changed.
  pre_raw.push_back("-A PORTCULLIS_PRE_raw -m mark --mark 0x0 -m socket --restore-skmark -m mark ! --mark " +
                    proxy_mark + " " + comment("proxy socket mark") + " -j MARK --set-xmark 0x0/0xffffffff");
  pre_raw.push_back("-A PORTCULLIS_PRE_raw " + from_proxy + " " + comment("notrack from-proxy") + notrack);

  // Return traffic of the proxy's transparent upstream sockets goes to the proxy first, as in
  // Cilium; TCP only for non-SYN packets (SPEC.md: a SYN reusing a TIME_WAIT 4-tuple must not
  // match). UDP's socket rule comes last, after TPROXY: the DNS proxy answers from unconnected
  // IP_TRANSPARENT sockets bound to the server's address and port, which the socket match finds
  // for the client's next query to that server; matched first, that query would be routed to
  // the reply socket (which never reads) instead of being sent to the listener by its mark.
  // TPROXY's own lookup skips unconnected UDP sockets, and TPROXY ends the chain.
  const bool any_tcp = std::any_of(plan.listeners.begin(), plan.listeners.end(),
                                   [](const Listener& l) { return l.tcp; });
  const bool any_udp = std::any_of(plan.listeners.begin(), plan.listeners.end(),
                                   [](const Listener& l) { return l.udp; });
  const std::string set_to_proxy = " -j MARK --set-xmark 0x200/0xffffffff";
  if (any_tcp)
    pre.push_back("-A PORTCULLIS_PRE_mangle -p tcp -m socket --transparent ! --syn " +
                  comment("transparent socket tcp") + set_to_proxy);
  tproxy(plan, family, pre);
  if (any_udp)
    pre.push_back("-A PORTCULLIS_PRE_mangle -p udp -m socket --transparent " +
                  comment("transparent socket udp") + set_to_proxy);
  return {{kOurChains[0], std::move(pre_raw)},
          {kOurChains[1], std::move(output_raw)},
          {kOurChains[2], std::move(pre)},
          {kOurChains[3], std::move(output)}};
}

std::string renderEdits(const DatapathPlan& plan, Family family, const PayloadEdits& edits) {
  std::map<std::string, TableEdits> tables;
  for (const auto& d : edits.deletes)
    tables[d.table].deletes.push_back("-D " + d.rule.chain + " " + d.rule.spec);
  for (const auto& d : edits.drop_chains) tables[d.table].drops.push_back(d.rule.chain);
  const bool refills_any = !edits.refill.empty();
  const auto contents = refills_any ? renderChains(plan, family) : std::vector<ChainContent>{};
  for (const auto& content : contents) {
    const OurChain& c = content.chain;
    if (std::find(edits.refill.begin(), edits.refill.end(), c.name) == edits.refill.end()) continue;
    auto& t = tables[std::string(c.table)];
    t.declare.emplace_back(c.name);
    t.appends.insert(t.appends.end(), content.rules.begin(), content.rules.end());
  }
  for (const auto& c : kOurChains) {
    if (std::find(edits.add_jumps.begin(), edits.add_jumps.end(), c.name) == edits.add_jumps.end())
      continue;
    tables[std::string(c.table)].inserts.push_back("-I " + std::string(c.builtin) + " " + jumpSpec(c));
  }
  return assemble(tables);
}

std::string renderInstall(const DatapathPlan& plan, Family family, const IptablesState& current) {
  std::vector<std::string_view> present;
  PayloadEdits edits = leftovers(current, /*keep_ours=*/true, present);
  for (const auto& c : kOurChains) {
    edits.refill.push_back(c.name);
    if (std::find(present.begin(), present.end(), c.name) == present.end())
      edits.add_jumps.push_back(c.name);
  }
  return renderEdits(plan, family, edits);
}

std::optional<std::string> renderRemoval(const IptablesState& current) {
  std::vector<std::string_view> present;
  PayloadEdits edits = leftovers(current, /*keep_ours=*/false, present);
  if (edits.deletes.empty() && edits.drop_chains.empty()) return std::nullopt;
  return renderEdits(DatapathPlan{}, Family::kV4, edits);
}

}  // namespace portcullis::datapath
