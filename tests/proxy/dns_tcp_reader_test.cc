// DnsTcpReader: framing length-prefixed messages out of whatever pieces the stream brings.
#include "proxy/dns_tcp_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace portcullis::proxy {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes message(size_t size, uint8_t seed) {
  Bytes m(size);
  for (size_t i = 0; i < size; ++i) m[i] = static_cast<uint8_t>(seed + i);
  return m;
}

Bytes framed(const std::vector<Bytes>& messages) {
  Bytes out;
  for (const Bytes& m : messages) {
    out.push_back(static_cast<uint8_t>(m.size() >> 8));
    out.push_back(static_cast<uint8_t>(m.size()));
    out.insert(out.end(), m.begin(), m.end());
  }
  return out;
}

// Feeds `stream` in reads of at most `chunk` bytes (and never more than space() offers),
// framing after each read as the sessions do; returns the messages in order.
std::vector<Bytes> feed(DnsTcpReader& reader, const Bytes& stream, std::vector<size_t> cuts) {
  std::vector<Bytes> out;
  size_t at = 0;
  cuts.push_back(stream.size());
  for (size_t cut : cuts) {
    while (at < cut) {
      const auto space = reader.space();
      EXPECT_GT(space.size(), 0u);
      EXPECT_LE(reader.capacity(), DnsTcpReader::kMaxSize);
      const size_t n = std::min(space.size(), cut - at);
      std::memcpy(space.data(), stream.data() + at, n);
      reader.commit(n);
      at += n;
      while (auto m = reader.next()) out.emplace_back(m->begin(), m->end());
    }
  }
  return out;
}

TEST(DnsTcpReaderTest, ManyMessagesInOneRead) {
  std::vector<Bytes> messages;
  for (uint8_t i = 0; i < 12; ++i) messages.push_back(message(30 + i, i));
  DnsTcpReader reader;
  EXPECT_EQ(feed(reader, framed(messages), {}), messages);
  EXPECT_FALSE(reader.holding());
}

TEST(DnsTcpReaderTest, EveryByteOffsetSplitAcrossTwoReads) {
  // The split lands in the first prefix, in a body, in the second prefix and so on.
  const std::vector<Bytes> messages = {message(33, 1), message(1, 2), message(47, 3)};
  const Bytes stream = framed(messages);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    DnsTcpReader reader;
    EXPECT_EQ(feed(reader, stream, {cut}), messages) << "cut at " << cut;
    EXPECT_FALSE(reader.holding()) << "cut at " << cut;
  }
}

TEST(DnsTcpReaderTest, OneByteAtATime) {
  const std::vector<Bytes> messages = {message(40, 9), message(2, 1), message(300, 4)};
  const Bytes stream = framed(messages);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  DnsTcpReader reader;
  EXPECT_EQ(feed(reader, stream, cuts), messages);
}

TEST(DnsTcpReaderTest, IncompleteMessageIsHeldAndNotFramed) {
  DnsTcpReader reader;
  const Bytes stream = framed({message(20, 0)});
  auto space = reader.space();
  std::memcpy(space.data(), stream.data(), 10);
  reader.commit(10);
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.holding());
  space = reader.space();
  std::memcpy(space.data(), stream.data() + 10, stream.size() - 10);
  reader.commit(stream.size() - 10);
  auto m = reader.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(Bytes(m->begin(), m->end()), message(20, 0));
  EXPECT_FALSE(reader.holding());
}

TEST(DnsTcpReaderTest, ZeroLengthIsAnEmptyMessageAndFramingGoesOn) {
  const Bytes stream = {0, 0, 0, 3, 7, 8, 9, 0, 0};
  DnsTcpReader reader;
  const auto got = feed(reader, stream, {1, 4});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].empty());
  EXPECT_EQ(got[1], (Bytes{7, 8, 9}));
  EXPECT_TRUE(got[2].empty());
}

TEST(DnsTcpReaderTest, LargestMessageFitsAndTheBufferShrinksAfterIt) {
  DnsTcpReader reader;
  reader.space();
  EXPECT_EQ(reader.capacity(), DnsTcpReader::kStartSize);  // what an idle connection holds
  const std::vector<Bytes> messages = {message(65535, 5), message(12, 6)};
  const Bytes stream = framed(messages);
  // Reads of 1000 bytes: the prefix arrives first, the buffer grows to fit the whole message.
  std::vector<size_t> cuts;
  for (size_t i = 1000; i < stream.size(); i += 1000) cuts.push_back(i);
  EXPECT_EQ(feed(reader, stream, cuts), messages);
  reader.space();
  EXPECT_EQ(reader.capacity(), DnsTcpReader::kStartSize);
}

TEST(DnsTcpReaderTest, FullReadsGrowTheBufferUpToTheBulkSize) {
  DnsTcpReader reader;
  std::vector<Bytes> messages;
  for (int i = 0; i < 2000; ++i) messages.push_back(message(40, static_cast<uint8_t>(i)));
  EXPECT_EQ(feed(reader, framed(messages), {}), messages);
  EXPECT_EQ(reader.capacity(), DnsTcpReader::kBulkSize);
  // The burst is over: one small message, and the buffer is back to its start size.
  EXPECT_EQ(feed(reader, framed({message(10, 1)}), {}), (std::vector<Bytes>{message(10, 1)}));
  reader.space();
  EXPECT_EQ(reader.capacity(), DnsTcpReader::kStartSize);
}

}  // namespace
}  // namespace portcullis::proxy
