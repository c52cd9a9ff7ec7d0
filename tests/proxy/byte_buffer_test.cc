// ByteBuffer and its per-thread BufferPool. Each test runs on a fresh thread, so that it starts
// with an empty pool whatever ran before on the test's own thread.
#include "proxy/byte_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace portcullis::proxy {
namespace {

template <class F>
void onFreshThread(F f) {
  std::thread t(f);
  t.join();
}

char* storageOf(ByteBuffer& b) { return static_cast<char*>(b.space().data()); }

TEST(ByteBufferTest, ReleasedStorageIsTakenAgainByTheNextBufferOfThatSize) {
  onFreshThread([] {
    ByteBuffer a(4096);
    char* first = storageOf(a);
    a.release();
    EXPECT_EQ(BufferPool::cached(), 1u);
    ByteBuffer b(4096);
    EXPECT_EQ(storageOf(b), first);
    EXPECT_EQ(BufferPool::cached(), 0u);
  });
}

TEST(ByteBufferTest, ReleaseKeepsStorageThatStillHoldsBytes) {
  onFreshThread([] {
    ByteBuffer a(4096);
    a.space();
    a.commit(3);
    a.release();
    EXPECT_EQ(BufferPool::cached(), 0u);
    EXPECT_EQ(a.data().size(), 3u);
  });
}

TEST(ByteBufferTest, DestroyedBufferGivesItsStorageBack) {
  onFreshThread([] {
    char* first = nullptr;
    {
      ByteBuffer a(4096);
      first = storageOf(a);
    }
    EXPECT_EQ(BufferPool::cached(), 1u);
    ByteBuffer b(4096);
    EXPECT_EQ(storageOf(b), first);
  });
}

TEST(ByteBufferTest, PoolHoldsOneSizeAndAtMostItsLimit) {
  onFreshThread([] {
    {
      std::vector<std::unique_ptr<ByteBuffer>> buffers;
      for (size_t i = 0; i < BufferPool::kMaxFree + 5; ++i) {
        buffers.push_back(std::make_unique<ByteBuffer>(4096));
        buffers.back()->space();
      }
    }
    EXPECT_EQ(BufferPool::cached(), BufferPool::kMaxFree);
    {
      ByteBuffer other(8192);
      other.space();
    }
    EXPECT_EQ(BufferPool::cached(), BufferPool::kMaxFree);  // another size is freed, not kept
    ByteBuffer small(8192);
    small.space();
    EXPECT_EQ(BufferPool::cached(), BufferPool::kMaxFree);  // nor taken from the pool
  });
}

TEST(ByteBufferTest, BufferMovedToAnotherThreadReturnsToThatThreadsPool) {
  auto* buffer = new ByteBuffer(4096);
  onFreshThread([buffer] { buffer->space(); });
  onFreshThread([buffer] {
    delete buffer;
    EXPECT_EQ(BufferPool::cached(), 1u);
  });
}

TEST(ByteBufferTest, DataSurvivesSpaceCompaction) {
  ByteBuffer b(16);
  auto s = b.space();
  std::memcpy(s.data(), "hello world", 11);
  b.commit(11);
  b.consume(6);
  EXPECT_EQ(b.data(), "world");
  EXPECT_EQ(b.space().size(), 11u);
  EXPECT_EQ(b.data(), "world");
}

}  // namespace
}  // namespace portcullis::proxy
