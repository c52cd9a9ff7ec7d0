#include "datapath/payload_renderer.h"

#include <gtest/gtest.h>

#include "tests/datapath/sample_plan.h"

namespace portcullis::datapath {
namespace {

using testing::golden;
using testing::readTestData;
using testing::samplePlan;

std::vector<std::string> linesOf(const std::string& text, std::string_view containing = "") {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(containing) != std::string::npos) out.push_back(line);
  return out;
}

TEST(PayloadRenderer, FreshInstallMatchesGoldenIPv4) {
  const std::string payload = renderInstall(samplePlan(), Family::kV4, {});
  EXPECT_EQ(payload, golden("sample_v4.golden", payload));
}

TEST(PayloadRenderer, FreshInstallMatchesGoldenIPv6) {
  const std::string payload = renderInstall(samplePlan(), Family::kV6, {});
  EXPECT_EQ(payload, golden("sample_v6.golden", payload));
}

TEST(PayloadRenderer, IsDeterministic) {
  EXPECT_EQ(renderInstall(samplePlan(), Family::kV4, {}), renderInstall(samplePlan(), Family::kV4, {}));
}

TEST(PayloadRenderer, KeepsEachFamilysAddressesInItsOwnPayload) {
  const auto v4 = renderInstall(samplePlan(), Family::kV4, {});
  const auto v6 = renderInstall(samplePlan(), Family::kV6, {});
  EXPECT_EQ(v4.find("2001:db8"), std::string::npos);
  EXPECT_EQ(v6.find("198.18."), std::string::npos);
  // dns-egress names only IPv4 sources: nothing of it in IPv6; the local selector has no
  // addresses and goes in both.
  EXPECT_EQ(linesOf(v6, "classify egress dns-egress").size(), 0u);
  EXPECT_EQ(linesOf(v4, "classify egress dns-egress").size(), 2u);
  EXPECT_EQ(linesOf(v4, "classify egress local-app").size(), 2u);
  EXPECT_EQ(linesOf(v6, "classify egress local-app").size(), 2u);
  EXPECT_EQ(linesOf(v6, "notrack egress local-app").size(), 2u);
}

// Classification in raw PREROUTING, so that the to-proxy NOTRACK after it sees the listener's
// mark (mangle runs after conntrack: classified there, the NOTRACK rule never matched and
// every redirected flow was tracked). Then the proxy's own sockets' mark on what comes back
// to them, and the from-proxy NOTRACK for it.
TEST(PayloadRenderer, PreroutingIsClassifiedInRawBeforeItsNotrackRules) {
  const auto payload = renderInstall(samplePlan(), Family::kV4, {});
  const auto raw = linesOf(payload, "-A PORTCULLIS_PRE_raw");
  ASSERT_EQ(raw.size(), 7u);  // 4 classifications, to-proxy, socket mark, from-proxy
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NE(raw[i].find("classify"), std::string::npos) << raw[i];
    EXPECT_NE(raw[i].find("-m mark --mark 0x0/0xf00 "), std::string::npos) << raw[i];
  }
  EXPECT_NE(raw[4].find("-m mark --mark 0x200/0xf00 -m comment --comment \"portcullis: notrack to-proxy\" "
                        "-j CT --notrack"),
            std::string::npos);
  // Only unmarked packets look their socket up; any mark but the proxy's is put back to 0.
  EXPECT_EQ(raw[5],
            "-A PORTCULLIS_PRE_raw -m mark --mark 0x0 -m socket --restore-skmark -m mark ! --mark "
            "0xa00/0xfffffeff -m comment --comment \"portcullis: proxy socket mark\" -j MARK --set-xmark "
            "0x0/0xffffffff");
  EXPECT_NE(raw[6].find("-m mark --mark 0xa00/0xfffffeff -m comment --comment \"portcullis: notrack from-proxy\""),
            std::string::npos);
  EXPECT_EQ(linesOf(payload, "-A PORTCULLIS_PRE_mangle").size(), 6u) << "socket rules and TPROXY only";
  EXPECT_EQ(linesOf(payload, "classify").size(), 6u) << "4 PREROUTING, 2 local";
}

// Local processes: marked in mangle OUTPUT (the mark change reroutes them to the proxy), and
// the same packets untracked in raw OUTPUT, since conntrack sees them before mangle does.
TEST(PayloadRenderer, LocalSelectorsAreUntrackedInRawOutputAndMarkedInMangle) {
  const auto payload = renderInstall(samplePlan(), Family::kV4, {});
  const auto raw = linesOf(payload, "-A PORTCULLIS_OUTPUT_raw");
  ASSERT_EQ(raw.size(), 4u);
  EXPECT_NE(raw[1].find("notrack from-proxy"), std::string::npos);
  EXPECT_EQ(raw[2],
            "-A PORTCULLIS_OUTPUT_raw -p tcp -m tcp --dport 8080 -m cgroup --path system.slice/app.service "
            "-m mark --mark 0x0/0xf00 -m comment --comment \"portcullis: notrack egress local-app\" "
            "-j CT --notrack");
  EXPECT_NE(raw[3].find("-m owner --uid-owner 1000 -m mark --mark 0x0/0xf00 "), std::string::npos);
  EXPECT_EQ(linesOf(payload, "-A PORTCULLIS_OUTPUT_mangle").size(), 2u);
}

// An upstream connection to the node itself (exactly the upstream mark, to a local address) is
// left to conntrack before the from-proxy NOTRACK: the local server answers from a socket
// without our mark, which would be INVALID after an untracked SYN. The answering sockets' mark
// (0xb00) does not match it and stays untracked under the from-proxy mask, in both families.
TEST(PayloadRenderer, UpstreamToALocalAddressIsTrackedAnswersAreNot) {
  for (Family family : {Family::kV4, Family::kV6}) {
    const auto raw = linesOf(renderInstall(samplePlan(), family, {}), "-A PORTCULLIS_OUTPUT_raw");
    ASSERT_GE(raw.size(), 2u);
    EXPECT_EQ(raw[0],
              "-A PORTCULLIS_OUTPUT_raw -o lo -m mark --mark 0xa00 -m addrtype --dst-type LOCAL -m comment "
              "--comment \"portcullis: track upstream to local\" -j RETURN");
    EXPECT_EQ(raw[1],
              "-A PORTCULLIS_OUTPUT_raw -m mark --mark 0xa00/0xfffffeff -m comment --comment "
              "\"portcullis: notrack from-proxy\" -j CT --notrack");
  }
  EXPECT_EQ(kMarkProxyAnswer & kMarkFromProxyMask, kMarkFromProxy & kMarkFromProxyMask);
  EXPECT_NE(kMarkProxyAnswer, kMarkFromProxy);
  EXPECT_NE(kMarkProxyAnswer & kMarkMagicMask, kMarkToProxy) << "never routed to the proxy";
}

// TCP's socket rule comes first (established proxied flows skip classification); UDP's comes
// last, after TPROXY, so a query to a server the DNS proxy answers from (an unconnected
// transparent reply socket bound to the server's address) is still classified and redirected.
TEST(PayloadRenderer, TcpSocketRuleFirstUdpSocketRuleLastClassificationSkipsMarkedTraffic) {
  const auto pre = linesOf(renderInstall(samplePlan(), Family::kV4, {}), "-A PORTCULLIS_PRE_mangle");
  ASSERT_GE(pre.size(), 3u);
  EXPECT_NE(pre.front().find("-p tcp -m socket --transparent ! --syn"), std::string::npos);
  EXPECT_NE(pre.back().find("-p udp -m socket --transparent"), std::string::npos);
  for (size_t i = 1; i + 1 < pre.size(); ++i) EXPECT_NE(pre[i].find("TPROXY"), std::string::npos) << pre[i];
  for (const auto& line : linesOf(renderInstall(samplePlan(), Family::kV4, {}), "classify")) {
    // Unmarked only: from-proxy (0xa00) and to-proxy (0x200) traffic is never classified.
    EXPECT_NE(line.find("-m mark --mark 0x0/0xf00"), std::string::npos) << line;
    EXPECT_EQ(kMarkFromProxy & kMarkMagicMask, kMarkFromProxy);
  }
}

TEST(PayloadRenderer, TproxyRulesNameTheirListener) {
  const auto dns = linesOf(renderInstall(samplePlan(), Family::kV4, {}), "tproxy portcullis-dns-egress");
  ASSERT_EQ(dns.size(), 2u);  // TCP and UDP on the same port
  EXPECT_NE(dns[0].find("-p tcp -m mark --mark 0x8f3c0200 "), std::string::npos);
  EXPECT_NE(dns[1].find("-p udp -m mark --mark 0x8f3c0200 "), std::string::npos);
  EXPECT_NE(dns[1].find("--on-port 15503 --on-ip 127.0.0.1 --tproxy-mark 0x200/0xffffffff"),
            std::string::npos);
}

TEST(PayloadRenderer, LocalSelectorsGoToOutputWithOwnerOrCgroup) {
  const auto out = linesOf(renderInstall(samplePlan(), Family::kV4, {}), "-A PORTCULLIS_OUTPUT_mangle");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].find("-m cgroup --path system.slice/app.service"), std::string::npos);
  EXPECT_NE(out[1].find("-m owner --uid-owner 1000"), std::string::npos);
}

TEST(PayloadRenderer, CommentsCannotEscapeTheirQuotes) {
  DatapathPlan plan = samplePlan();
  plan.classifications[0].rule = "evil\" -j ACCEPT #";
  const auto lines = linesOf(renderInstall(plan, Family::kV4, {}), "evil");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("--comment \"portcullis: classify egress evil_ -j ACCEPT _\" -j MARK"),
            std::string::npos)
      << lines[0];
  EXPECT_EQ(IptablesState::parse("*mangle\n" + lines[0] + "\nCOMMIT\n").tables[0].rules.size(), 1u);
  EXPECT_EQ(jumpTarget(IptablesState::parse("*mangle\n" + lines[0] + "\n").tables[0].rules[0].spec),
            "MARK");
}

TEST(PayloadRenderer, InstallOverLeftoversKeepsOneJumpAndRemovesTheRest) {
  // A previous run's state plus a duplicate jump, a stray rule in filter and a chain of a
  // future version.
  std::string saved = readTestData("installed_v4.save");
  saved.replace(saved.find("-A OUTPUT -m comment --comment \"portcullis: jump\" -j PORTCULLIS_OUTPUT_mangle"), 0,
                "-A OUTPUT -m comment --comment \"portcullis: jump\" -j PORTCULLIS_OUTPUT_mangle\n");
  saved += "*filter\n:INPUT ACCEPT [0:0]\n:PORTCULLIS_OLD - [0:0]\n"
           "-A INPUT -m comment --comment \"portcullis: old\" -j ACCEPT\n"
           "-A INPUT -j PORTCULLIS_OLD\nCOMMIT\n";
  const auto payload = renderInstall(samplePlan(), Family::kV4, IptablesState::parse(saved));
  EXPECT_EQ(payload, golden("install_over_leftovers_v4.golden", payload));
  EXPECT_EQ(linesOf(payload, "-I ").size(), 0u) << "every jump was already there";
  EXPECT_EQ(linesOf(payload, "-D OUTPUT -m comment --comment \"portcullis: jump\"").size(), 1u);
  EXPECT_EQ(linesOf(payload, "-X PORTCULLIS_OLD").size(), 1u);
  // The host's own rules are never named.
  EXPECT_EQ(payload.find("eth9"), std::string::npos);
  EXPECT_EQ(payload.find("--dport 22"), std::string::npos);
}

TEST(PayloadRenderer, RemovalDeletesJumpsThenChainsAndNothingElse) {
  const auto payload = renderRemoval(IptablesState::parse(readTestData("installed_v4.save")));
  ASSERT_TRUE(payload);
  EXPECT_EQ(*payload,
            "*raw\n"
            "-D PREROUTING -m comment --comment \"portcullis: jump\" -j PORTCULLIS_PRE_raw\n"
            "-D OUTPUT -m comment --comment \"portcullis: jump\" -j PORTCULLIS_OUTPUT_raw\n"
            "-F PORTCULLIS_OUTPUT_raw\n-F PORTCULLIS_PRE_raw\n"
            "-X PORTCULLIS_OUTPUT_raw\n-X PORTCULLIS_PRE_raw\n"
            "COMMIT\n"
            "*mangle\n"
            "-D PREROUTING -m comment --comment \"portcullis: jump\" -j PORTCULLIS_PRE_mangle\n"
            "-D OUTPUT -m comment --comment \"portcullis: jump\" -j PORTCULLIS_OUTPUT_mangle\n"
            "-F PORTCULLIS_OUTPUT_mangle\n-F PORTCULLIS_PRE_mangle\n"
            "-X PORTCULLIS_OUTPUT_mangle\n-X PORTCULLIS_PRE_mangle\n"
            "COMMIT\n");
}

TEST(PayloadRenderer, RemovalOfACleanStateIsNothing) {
  EXPECT_FALSE(renderRemoval(IptablesState::parse(
      "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n")));
}

TEST(PayloadRenderer, EditsRefillOneChainAndInsertOneJump) {
  PayloadEdits edits;
  edits.refill = {"PORTCULLIS_OUTPUT_mangle"};
  edits.add_jumps = {"PORTCULLIS_PRE_raw"};
  EXPECT_EQ(renderEdits(samplePlan(), Family::kV6, edits),
            "*raw\n"
            "-I PREROUTING -m comment --comment \"portcullis: jump\" -j PORTCULLIS_PRE_raw\n"
            "COMMIT\n"
            "*mangle\n"
            ":PORTCULLIS_OUTPUT_mangle - [0:0]\n"
            "-A PORTCULLIS_OUTPUT_mangle -p tcp -m tcp --dport 8080 -m cgroup --path system.slice/app.service "
            "-m mark --mark 0x0/0xf00 -m comment --comment \"portcullis: classify egress local-app\" "
            "-j MARK --set-xmark 0x779b0200/0xffffffff\n"
            "-A PORTCULLIS_OUTPUT_mangle -p tcp -m tcp --dport 8080 -m owner --uid-owner 1000 "
            "-m mark --mark 0x0/0xf00 -m comment --comment \"portcullis: classify egress local-app\" "
            "-j MARK --set-xmark 0x779b0200/0xffffffff\n"
            "COMMIT\n");
}

}  // namespace
}  // namespace portcullis::datapath
