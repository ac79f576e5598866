{
  "targets": [
    {
      "target_name": "switchyard_verbs",
      "sources": ["native/addon.cc", "native/device.cc", "native/memory.cc", "native/cq.cc", "native/qp.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags": ["<!@(pkg-config --cflags libibverbs 2>/dev/null || true)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["<!@(pkg-config --libs libibverbs 2>/dev/null || echo -libverbs)"]
    }
  ]
}
