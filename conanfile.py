"""Conan 2 recipe for goro (header-only).

From a goro checkout:
    conan create . --build=missing
which also builds and runs test_package/. Consumers then require "goro/0.1.0"
and use find_package(goro CONFIG REQUIRED) with the target goro::goro
(#include <goro/goro.hpp>) or goro::single (#include <goro.hpp>).
"""
import os

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class GoroConan(ConanFile):
    name = "goro"
    version = "0.1.0"
    description = "Go's concurrency model for C++17: goroutines, channels and select"
    license = "MIT"
    topics = ("concurrency", "coroutines", "goroutines", "channels", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "include/*", "single_include/*", "LICENSE"
    no_copy_source = True

    def layout(self):
        basic_layout(self, src_folder=".")

    def package_id(self):
        # The same headers serve every configuration.
        self.info.clear()

    def validate(self):
        if self.settings.get_safe("compiler.cppstd"):
            check_min_cppstd(self, 17)
        if self.settings.os == "Windows":
            raise ConanInvalidConfiguration("goro needs a POSIX system (Linux, macOS, BSD)")

    def package(self):
        copy(self, "LICENSE", src=self.source_folder, dst=os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", src=os.path.join(self.source_folder, "include"),
             dst=os.path.join(self.package_folder, "include"))
        # The amalgamated header goes beside the goro/ directory, as `cmake --install` puts it.
        copy(self, "goro.hpp", src=os.path.join(self.source_folder, "single_include"),
             dst=os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "goro")
        self.cpp_info.set_property("cmake_target_name", "goro::goro")
        # Both headers live in include/, so one target serves both spellings.
        self.cpp_info.set_property("cmake_target_aliases", ["goro::single"])
        self.cpp_info.set_property("pkg_config_name", "goro")
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
