// value_box.hpp: where goro's own code keeps a channel element for a while.
//
// goro's functions run on goroutine stacks, which are fixed (256 KiB by
// default) and end in a guard region. An element that goro copies (a send
// of a const T&), or holds for the length of a select (a send case's value,
// a receive case's slot), or keeps in a range-for iterator would otherwise
// sit in one of goro's frames: for a large T (a 1 MiB std::array) that frame
// alone can exceed the stack or step over the guard into memory that is not
// ours. So an element larger than large_value_bytes is kept on the heap; a
// small one stays in place, where it costs nothing extra.
//
// Invariant of both boxes: the heap variant allocates only on the calling
// goroutine's side (constructor or ensure()), where std::bad_alloc is an
// ordinary exception of the operation; never under a channel lock or on a
// worker's scheduler context.
#ifndef GORO_DETAIL_VALUE_BOX_HPP
#define GORO_DETAIL_VALUE_BOX_HPP

#include "../config.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

namespace goro::detail {

/// Elements larger than this many bytes are never held in a frame of goro's
/// own code (see the file comment). A goroutine's own frames are the user's
/// business: docs/api.md says what they may hold.
inline constexpr std::size_t large_value_bytes = 1024;

/// Whether goro keeps a T on the heap rather than in its own frames.
template <class T>
inline constexpr bool is_large_value = sizeof(T) > large_value_bytes;

/// One T made from constructor arguments: in place when small, on the heap
/// when large. Movable; its address is stable only while it is not moved.
template <class T, bool Large = is_large_value<T>>
class value_box {
 public:
  template <class... A>
  explicit value_box(std::in_place_t, A&&... args) : value_(std::forward<A>(args)...) {}
  T& get() noexcept { return value_; }

 private:
  T value_;
};

template <class T>
class value_box<T, true> {
 public:
  template <class... A>
  explicit value_box(std::in_place_t, A&&... args)
      : value_(std::make_unique<T>(std::forward<A>(args)...)) {}
  T& get() noexcept { return *value_; }

 private:
  std::unique_ptr<T> value_;  ///< never null, except after a move
};

/// Where a received element lands: a std::optional<T>, in place when T is
/// small, on the heap when large. The heap variant is made by the
/// constructor, or left out (no_slot) and made later by ensure(); get()
/// needs it made. Copies copy the optional.
template <class T, bool Large = is_large_value<T>>
class recv_slot {
 public:
  /// Says: allocate nothing yet (an end iterator never receives).
  struct no_slot_t {};
  recv_slot() noexcept = default;
  explicit recv_slot(no_slot_t) noexcept {}
  void ensure() noexcept {}
  std::optional<T>& get() noexcept { return slot_; }

 private:
  std::optional<T> slot_;
};

template <class T>
class recv_slot<T, true> {
 public:
  struct no_slot_t {};
  recv_slot() : slot_(std::make_unique<std::optional<T>>()) {}
  explicit recv_slot(no_slot_t) noexcept {}
  recv_slot(recv_slot&&) noexcept = default;
  recv_slot& operator=(recv_slot&&) noexcept = default;
  recv_slot(const recv_slot& other)
      : slot_(other.slot_ ? std::make_unique<std::optional<T>>(*other.slot_) : nullptr) {}
  recv_slot& operator=(const recv_slot& other) {
    if (this != &other) recv_slot(other).swap(*this);
    return *this;
  }
  ~recv_slot() = default;

  /// Makes the slot if it is not made yet (throws std::bad_alloc).
  void ensure() {
    if (!slot_) slot_ = std::make_unique<std::optional<T>>();
  }
  std::optional<T>& get() noexcept { return *slot_; }

 private:
  void swap(recv_slot& other) noexcept { slot_.swap(other.slot_); }
  std::unique_ptr<std::optional<T>> slot_;  ///< null only for no_slot or after a move
};

}  // namespace goro::detail

#endif
