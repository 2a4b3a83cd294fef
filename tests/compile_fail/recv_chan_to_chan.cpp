// must fail: assigning a recv_chan<int> to a chan<int> (a view cannot regain the send side).
// expect-error: conversion|no viable|no match|cannot convert
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c = goro::make_chan<int>(1);
  goro::recv_chan<int> in = c;
  goro::chan<int> back;
  back = in;
}
