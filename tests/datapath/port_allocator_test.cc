#include "datapath/port_allocator.h"

#include <gtest/gtest.h>

#include "datapath/datapath_error.h"
#include "datapath/marks.h"
#include "tests/datapath/fakes.h"

namespace portcullis::datapath {
namespace {

using testing::FakePortUsage;

TEST(Marks, FollowCiliumsFormula) {
  EXPECT_EQ(listenerMark(39799), 0x779b0200u);
  EXPECT_EQ(listenerMark(15503), 0x8f3c0200u);
  EXPECT_EQ(listenerMark(1), 0x01000200u);
  EXPECT_EQ(listenerMark(256), 0x00010200u);
  for (uint32_t port : {1u, 80u, 10000u, 65535u}) {
    const uint32_t mark = listenerMark(static_cast<uint16_t>(port));
    EXPECT_EQ(mark & kMarkMagicMask, kMarkToProxy) << port;  // the fwmark rule matches it
    EXPECT_EQ(mark & 0xffff, kMarkToProxy) << port;
  }
}

TEST(ProcNetPorts, ParsesLocalPortsOfEveryRow) {
  const char* tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
      "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n";
  EXPECT_EQ(parseProcNetPorts(tcp), (std::set<uint16_t>{8080, 22}));
  const char* tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000001000000:3A98 00000000000000000000000000000000:0000 0A\n";
  EXPECT_EQ(parseProcNetPorts(tcp6), (std::set<uint16_t>{15000}));
  EXPECT_TRUE(parseProcNetPorts("header only\n").empty());
}

TEST(PortAllocator, SkipsPortsInUseAndGivesEachListenerItsOwn) {
  FakePortUsage usage;
  usage.in_use = {10000, 10002};
  usage.unbindable = {10003};
  PortAllocator allocator(usage, 10000, 10005, 42);
  auto ports = allocator.allocate({{"a", true, false, 0}, {"b", true, true, 0}, {"c", true, false, 0}});
  ASSERT_TRUE(ports);
  std::set<uint16_t> chosen;
  for (const auto& [name, port] : ports.value()) {
    EXPECT_TRUE(port == 10001 || port == 10004 || port == 10005) << name << " " << port;
    chosen.insert(port);
  }
  EXPECT_EQ(chosen.size(), 3u);
}

TEST(PortAllocator, FailsWhenTheRangeIsFull) {
  FakePortUsage usage;
  usage.in_use = {10000, 10001};
  PortAllocator allocator(usage, 10000, 10002, 7);
  auto ports = allocator.allocate({{"a", true, false, 0}, {"b", true, false, 0}});
  ASSERT_FALSE(ports);
  EXPECT_EQ(ports.error(), DatapathError::kNoFreePort);
}

TEST(PortAllocator, AdoptsALeftoverPortOnlyWhenItIsFree) {
  FakePortUsage usage;
  usage.in_use = {15000};
  PortAllocator allocator(usage, 10000, 20000, 1);
  auto ports = allocator.allocate({{"free", true, true, 12345}, {"taken", true, false, 15000}});
  ASSERT_TRUE(ports);
  EXPECT_EQ(ports.value().at("free"), 12345);
  EXPECT_NE(ports.value().at("taken"), 15000);
}

TEST(PortAllocator, DrawsAtRandomFromTheRange) {
  FakePortUsage usage;
  std::set<uint16_t> seen;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    PortAllocator allocator(usage, 10000, 20000, seed);
    seen.insert(allocator.allocate({{"a", true, false, 0}}).value().at("a"));
  }
  EXPECT_GT(seen.size(), 15u);
  for (uint16_t p : seen) EXPECT_TRUE(p >= 10000 && p <= 20000);
}

}  // namespace
}  // namespace portcullis::datapath
