# Unit test bundles: several tests/unit/test_*.cpp compiled as one translation
# unit and linked into one executable, each file still its own ctest entry;
# and the test programs (tests/programs/*.cpp) compiled as one executable
# that runs the program its argv[0] names (so too, in a test build, the
# examples and goro's benchmark programs: GORO_EXAMPLES_BUNDLE,
# GORO_BENCH_BUNDLE).
#
# Why: every unit test instantiates goro's inline runtime, Catch2's machinery
# and the same templates; compiled 31 times per configuration that was about
# half of the test build. Eight test files compiled as one bundle took 41 s
# where they took 101 s apart (gcc-tsan flags and the precompiled header, on
# the host of 2026-12-01).
#
# How a file stays what it was alone:
#   - Each file sits in a namespace of its own (goro_bundle_<name>), so that
#     the helpers of two files, anonymous namespaces included, never meet.
#   - Its #include lines are hoisted above every namespace, so that headers
#     are included at global scope once; its own #includes then find their
#     include guards set. A file with an #include inside #if, or one after a
#     #define or #undef (hoisted, it would no longer see the macro), cannot
#     be hoisted so and is built alone.
#   - ctest runs the bundle once per file, with Catch2's filenames-as-tags
#     filter (-# "[#test_<name>]", the same tag in Catch2 v2 and v3), and
#     -w NoTests makes a filter that selects nothing fail rather than pass.
#   - A program's main() is goro_bundle_<name>::main, which the bundle's own
#     main() calls, with or without (argc, argv) as the program declares it;
#     the program must return from it (no implicit return 0 outside ::main).
#
#   goro_test_bundle_includes(<file> <out>)   <out>: the file's #include lines
#                                             when they can be hoisted (above),
#                                             else <out>-NOTFOUND
#   goro_test_bundle_plan(<count> <out> <sources...>)
#                                             shares the sources among <count>
#                                             bundles, the largest first into
#                                             the lightest: sets <out>_<i> for
#                                             i in 1..count (some may be empty)
#   goro_test_bundle_write(<path> <sources...>)
#                                             writes the unit test bundle's
#                                             source, only when its text changed
#   goro_program_bundle_write(<path> [PREFIX <p>] <sources...>)
#                                             the same for a bundle of programs;
#                                             <p><name> runs <name>.cpp's main
include_guard(GLOBAL)

function(goro_test_bundle_includes file out)
  file(STRINGS "${file}" _lines
    REGEX "^[ \t]*#[ \t]*(if|ifdef|ifndef|endif|include|define|undef)")
  set(_depth 0)
  set(_defined OFF)
  set(_includes "")
  foreach(_line IN LISTS _lines)
    if(_line MATCHES "^[ \t]*#[ \t]*(define|undef)[ \t]")
      set(_defined ON)
    elseif(_line MATCHES "^[ \t]*#[ \t]*(if|ifdef|ifndef)([ \t(]|$)")
      math(EXPR _depth "${_depth} + 1")
    elseif(_line MATCHES "^[ \t]*#[ \t]*endif")
      math(EXPR _depth "${_depth} - 1")
    elseif(_line MATCHES "^[ \t]*#[ \t]*include[ \t]*([<\"][^>\"]+[>\"])")
      if(_depth GREATER 0 OR _defined)
        set(${out} "${out}-NOTFOUND" PARENT_SCOPE)
        return()
      endif()
      list(APPEND _includes "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(${out} "${_includes}" PARENT_SCOPE)
endfunction()

function(goro_test_bundle_plan count out)
  # Source size stands in for compile time: "<size, zero-padded>|<path>"
  # sorts by size as text.
  set(_keyed "")
  foreach(_src IN LISTS ARGN)
    file(SIZE "${_src}" _size)
    string(LENGTH "${_size}" _digits)
    math(EXPR _pad "12 - ${_digits}")
    string(REPEAT "0" ${_pad} _zeros)
    list(APPEND _keyed "${_zeros}${_size}|${_src}")
  endforeach()
  list(SORT _keyed)
  list(REVERSE _keyed)
  foreach(_i RANGE 1 ${count})
    set(_load_${_i} 0)
    set(_files_${_i} "")
  endforeach()
  foreach(_entry IN LISTS _keyed)
    string(REGEX MATCH "^0*([0-9]+)\\|(.*)$" _ "${_entry}")
    set(_size "${CMAKE_MATCH_1}")
    set(_src "${CMAKE_MATCH_2}")
    set(_best 1)
    foreach(_i RANGE 1 ${count})
      if(_load_${_i} LESS _load_${_best})
        set(_best ${_i})
      endif()
    endforeach()
    math(EXPR _load_${_best} "${_load_${_best}} + ${_size}")
    list(APPEND _files_${_best} "${_src}")
  endforeach()
  foreach(_i RANGE 1 ${count})
    set(${out}_${_i} "${_files_${_i}}" PARENT_SCOPE)
  endforeach()
endfunction()

# _goro_bundle_text(<out> <sources...>): the hoisted #includes, then each
# source inside its namespace.
function(_goro_bundle_text out)
  set(_head "")
  set(_body "")
  foreach(_src IN LISTS ARGN)
    goro_test_bundle_includes("${_src}" _includes)
    if(_includes MATCHES "-NOTFOUND$")
      message(FATAL_ERROR "goro bundles: the #includes of ${_src} cannot be hoisted")
    endif()
    foreach(_inc IN LISTS _includes)
      string(FIND "${_head}" "#include ${_inc}\n" _seen)
      if(_seen EQUAL -1)
        string(APPEND _head "#include ${_inc}\n")
      endif()
    endforeach()
    # An edit of the file may change what is hoisted: configure again then.
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_src}")
    get_filename_component(_name "${_src}" NAME_WE)
    string(APPEND _body
      "\nnamespace goro_bundle_${_name} {\n#include \"${_src}\"\n}  // namespace goro_bundle_${_name}\n")
  endforeach()
  set(${out} "${_head}${_body}" PARENT_SCOPE)
endfunction()

# _goro_bundle_save(<path> <text>): writes only a changed text, so that an
# unchanged bundle is not rebuilt.
function(_goro_bundle_save path text)
  set(_old "")
  if(EXISTS "${path}")
    file(READ "${path}" _old)
  endif()
  if(NOT _old STREQUAL text)
    file(WRITE "${path}" "${text}")
  endif()
endfunction()

function(goro_test_bundle_write path)
  _goro_bundle_text(_text ${ARGN})
  _goro_bundle_save("${path}"
    "// Generated by cmake/GoroTestBundles.cmake: unit test files compiled as one.\n${_text}")
endfunction()

function(goro_program_bundle_write path)
  cmake_parse_arguments(ARG "" "PREFIX" "" ${ARGN})
  _goro_bundle_text(_text ${ARG_UNPARSED_ARGUMENTS})
  set(_calls "")
  foreach(_src IN LISTS ARG_UNPARSED_ARGUMENTS)
    get_filename_component(_name "${_src}" NAME_WE)
    string(APPEND _calls "  if (std::strcmp(name, \"${ARG_PREFIX}${_name}\") == 0) {\n"
      "    return goro_bundle_run_main(&goro_bundle_${_name}::main, argc, argv);\n  }\n")
  endforeach()
  _goro_bundle_save("${path}" "\
// Generated by cmake/GoroTestBundles.cmake: programs compiled as one;
// argv[0]'s file name says which runs.
#include <cstdio>
#include <cstring>
#include <type_traits>
${_text}
template <class Main>
static int goro_bundle_run_main(Main* program_main, int argc, char** argv) {
  if constexpr (std::is_invocable_v<Main*, int, char**>) {
    return program_main(argc, argv);
  } else {
    (void)argc;
    (void)argv;
    return program_main();
  }
}

int main(int argc, char** argv) {
  const char* slash = std::strrchr(argv[0], '/');
  const char* name = slash != nullptr ? slash + 1 : argv[0];
${_calls}  std::fprintf(stderr, \"goro bundle: no program named '%s' here\\n\", name);
  return 2;
}
")
endfunction()
