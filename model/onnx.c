/* model onnx: the released Pangu-Weather models (pangu_weather_{1,3,6,24}.onnx)
 * read into model format 2. The file is parsed by protobuf-c on the ONNX
 * schema Debian ships (/usr/include/onnx/onnx.proto, compiled at build time);
 * the tensors are found by the names of official_onnx_names.csv
 * (../shared/reference), converted as pangu_ref.py's `import` converts them.
 *
 * Memory: the file is mapped, parsed (protobuf-c copies every tensor's bytes),
 * unmapped; each tensor's copy is released as soon as it is converted, and
 * large blocks go straight to mmap so that releasing them returns them to the
 * system. The peak is about twice the file. */
#define _DEFAULT_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#include "../util/util.h"
#include "internal.h"

/* How a tensor of the released files maps onto the model's. */
enum {
    HOW_SAME,            /* the model's shape, same order */
    HOW_CHANNELS,        /* (C, K, 1): a convolution flattened to K = channels x patch */
    HOW_TRANSPOSE,       /* (in, out): Linear weights of y = x W */
    HOW_RECOVERY,        /* (K, 2C, 1): patch recovery as a 1x1 convolution, K = variables x patch */
    HOW_FLAT,            /* (K): the recovery bias per variable and patch position */
    HOW_BIAS,            /* (1, types, heads, N, N): the Earth-specific bias gathered */
    HOW_UPPER_CONSTANTS, /* (1, 1, 1, L, H, W): const_h */
    HOW_LEVELS_REVERSED, /* (L, 1, 1, 5): the input statistics, 50 hPa first */
    HOW_CONSTANTS,       /* (1, 3, Hp, Wp): the masks on the padded grid */
    HOW_CHECK_UPPER,     /* (5, 1, L, 1, 1): the output statistics, equal to the input's */
    HOW_CHECK_SURFACE,   /* (4, 1, 1, 1) */
};

static const struct {
    const char *tensor, *onnx;
    int constant_node; /* a Constant node's value, else an initializer (either is accepted) */
    int how;
} names[] = {
    /* official_onnx_names.csv, row by row (a test compares them) */
    {"patch_embed.conv.weight", "b1.a1.weight", 0, HOW_CHANNELS},
    {"patch_embed.conv.bias", "b1.a1.bias", 0, HOW_SAME},
    {"patch_embed.conv_surface.weight", "b1.a2.weight", 0, HOW_CHANNELS},
    {"patch_embed.conv_surface.bias", "b1.a2.bias", 0, HOW_SAME},
    {"layers.0.blocks.0.norm1.weight", "b1.a14.weight", 0, HOW_SAME},
    {"layers.0.blocks.0.norm1.bias", "b1.a14.bias", 0, HOW_SAME},
    {"layers.0.blocks.0.norm2.weight", "b1.a15.weight", 0, HOW_SAME},
    {"layers.0.blocks.0.norm2.bias", "b1.a15.bias", 0, HOW_SAME},
    {"layers.0.blocks.0.mlp.fc1.weight", "onnx::MatMul_8952", 0, HOW_TRANSPOSE},
    {"layers.0.blocks.0.mlp.fc1.bias", "b1.a16.fc1.bias", 0, HOW_SAME},
    {"layers.0.blocks.0.mlp.fc2.weight", "onnx::MatMul_8953", 0, HOW_TRANSPOSE},
    {"layers.0.blocks.0.mlp.fc2.bias", "b1.a16.fc2.bias", 0, HOW_SAME},
    {"layers.0.blocks.0.attn.earth_specific_bias", "onnx::Add_8950", 0, HOW_BIAS},
    {"layers.0.blocks.0.attn.qkv.weight", "onnx::MatMul_8946", 0, HOW_TRANSPOSE},
    {"layers.0.blocks.0.attn.qkv.bias", "b1.a12.bias", 0, HOW_SAME},
    {"layers.0.blocks.0.attn.proj.weight", "onnx::MatMul_8951", 0, HOW_TRANSPOSE},
    {"layers.0.blocks.0.attn.proj.bias", "b1.a13.bias", 0, HOW_SAME},
    {"layers.0.blocks.1.norm1.weight", "b1.a22.weight", 0, HOW_SAME},
    {"layers.0.blocks.1.norm1.bias", "b1.a22.bias", 0, HOW_SAME},
    {"layers.0.blocks.1.norm2.weight", "b1.a23.weight", 0, HOW_SAME},
    {"layers.0.blocks.1.norm2.bias", "b1.a23.bias", 0, HOW_SAME},
    {"layers.0.blocks.1.mlp.fc1.weight", "onnx::MatMul_9059", 0, HOW_TRANSPOSE},
    {"layers.0.blocks.1.mlp.fc1.bias", "b1.a24.fc1.bias", 0, HOW_SAME},
    {"layers.0.blocks.1.mlp.fc2.weight", "onnx::MatMul_9060", 0, HOW_TRANSPOSE},
    {"layers.0.blocks.1.mlp.fc2.bias", "b1.a24.fc2.bias", 0, HOW_SAME},
    {"layers.0.blocks.1.attn.earth_specific_bias", "onnx::Add_9057", 0, HOW_BIAS},
    {"layers.0.blocks.1.attn.qkv.weight", "onnx::MatMul_9053", 0, HOW_TRANSPOSE},
    {"layers.0.blocks.1.attn.qkv.bias", "b1.a20.bias", 0, HOW_SAME},
    {"layers.0.blocks.1.attn.proj.weight", "onnx::MatMul_9058", 0, HOW_TRANSPOSE},
    {"layers.0.blocks.1.attn.proj.bias", "b1.a21.bias", 0, HOW_SAME},
    {"layers.1.blocks.0.norm1.weight", "b1.a32.weight", 0, HOW_SAME},
    {"layers.1.blocks.0.norm1.bias", "b1.a32.bias", 0, HOW_SAME},
    {"layers.1.blocks.0.norm2.weight", "b1.a33.weight", 0, HOW_SAME},
    {"layers.1.blocks.0.norm2.bias", "b1.a33.bias", 0, HOW_SAME},
    {"layers.1.blocks.0.mlp.fc1.weight", "onnx::MatMul_9078", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.0.mlp.fc1.bias", "b1.a34.fc1.bias", 0, HOW_SAME},
    {"layers.1.blocks.0.mlp.fc2.weight", "onnx::MatMul_9079", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.0.mlp.fc2.bias", "b1.a34.fc2.bias", 0, HOW_SAME},
    {"layers.1.blocks.0.attn.earth_specific_bias", "onnx::Add_9076", 0, HOW_BIAS},
    {"layers.1.blocks.0.attn.qkv.weight", "onnx::MatMul_9072", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.0.attn.qkv.bias", "b1.a30.bias", 0, HOW_SAME},
    {"layers.1.blocks.0.attn.proj.weight", "onnx::MatMul_9077", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.0.attn.proj.bias", "b1.a31.bias", 0, HOW_SAME},
    {"layers.1.blocks.1.norm1.weight", "b1.a40.weight", 0, HOW_SAME},
    {"layers.1.blocks.1.norm1.bias", "b1.a40.bias", 0, HOW_SAME},
    {"layers.1.blocks.1.norm2.weight", "b1.a41.weight", 0, HOW_SAME},
    {"layers.1.blocks.1.norm2.bias", "b1.a41.bias", 0, HOW_SAME},
    {"layers.1.blocks.1.mlp.fc1.weight", "onnx::MatMul_9185", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.1.mlp.fc1.bias", "b1.a42.fc1.bias", 0, HOW_SAME},
    {"layers.1.blocks.1.mlp.fc2.weight", "onnx::MatMul_9186", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.1.mlp.fc2.bias", "b1.a42.fc2.bias", 0, HOW_SAME},
    {"layers.1.blocks.1.attn.earth_specific_bias", "onnx::Add_9183", 0, HOW_BIAS},
    {"layers.1.blocks.1.attn.qkv.weight", "onnx::MatMul_9179", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.1.attn.qkv.bias", "b1.a38.bias", 0, HOW_SAME},
    {"layers.1.blocks.1.attn.proj.weight", "onnx::MatMul_9184", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.1.attn.proj.bias", "b1.a39.bias", 0, HOW_SAME},
    {"layers.1.blocks.2.norm1.weight", "b1.a48.weight", 0, HOW_SAME},
    {"layers.1.blocks.2.norm1.bias", "b1.a48.bias", 0, HOW_SAME},
    {"layers.1.blocks.2.norm2.weight", "b1.a49.weight", 0, HOW_SAME},
    {"layers.1.blocks.2.norm2.bias", "b1.a49.bias", 0, HOW_SAME},
    {"layers.1.blocks.2.mlp.fc1.weight", "onnx::MatMul_9198", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.2.mlp.fc1.bias", "b1.a50.fc1.bias", 0, HOW_SAME},
    {"layers.1.blocks.2.mlp.fc2.weight", "onnx::MatMul_9199", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.2.mlp.fc2.bias", "b1.a50.fc2.bias", 0, HOW_SAME},
    {"layers.1.blocks.2.attn.earth_specific_bias", "onnx::Add_9196", 0, HOW_BIAS},
    {"layers.1.blocks.2.attn.qkv.weight", "onnx::MatMul_9192", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.2.attn.qkv.bias", "b1.a46.bias", 0, HOW_SAME},
    {"layers.1.blocks.2.attn.proj.weight", "onnx::MatMul_9197", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.2.attn.proj.bias", "b1.a47.bias", 0, HOW_SAME},
    {"layers.1.blocks.3.norm1.weight", "b1.a56.weight", 0, HOW_SAME},
    {"layers.1.blocks.3.norm1.bias", "b1.a56.bias", 0, HOW_SAME},
    {"layers.1.blocks.3.norm2.weight", "b1.a57.weight", 0, HOW_SAME},
    {"layers.1.blocks.3.norm2.bias", "b1.a57.bias", 0, HOW_SAME},
    {"layers.1.blocks.3.mlp.fc1.weight", "onnx::MatMul_9305", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.3.mlp.fc1.bias", "b1.a58.fc1.bias", 0, HOW_SAME},
    {"layers.1.blocks.3.mlp.fc2.weight", "onnx::MatMul_9306", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.3.mlp.fc2.bias", "b1.a58.fc2.bias", 0, HOW_SAME},
    {"layers.1.blocks.3.attn.earth_specific_bias", "onnx::Add_9303", 0, HOW_BIAS},
    {"layers.1.blocks.3.attn.qkv.weight", "onnx::MatMul_9299", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.3.attn.qkv.bias", "b1.a54.bias", 0, HOW_SAME},
    {"layers.1.blocks.3.attn.proj.weight", "onnx::MatMul_9304", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.3.attn.proj.bias", "b1.a55.bias", 0, HOW_SAME},
    {"layers.1.blocks.4.norm1.weight", "b1.a64.weight", 0, HOW_SAME},
    {"layers.1.blocks.4.norm1.bias", "b1.a64.bias", 0, HOW_SAME},
    {"layers.1.blocks.4.norm2.weight", "b1.a65.weight", 0, HOW_SAME},
    {"layers.1.blocks.4.norm2.bias", "b1.a65.bias", 0, HOW_SAME},
    {"layers.1.blocks.4.mlp.fc1.weight", "onnx::MatMul_9318", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.4.mlp.fc1.bias", "b1.a66.fc1.bias", 0, HOW_SAME},
    {"layers.1.blocks.4.mlp.fc2.weight", "onnx::MatMul_9319", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.4.mlp.fc2.bias", "b1.a66.fc2.bias", 0, HOW_SAME},
    {"layers.1.blocks.4.attn.earth_specific_bias", "onnx::Add_9316", 0, HOW_BIAS},
    {"layers.1.blocks.4.attn.qkv.weight", "onnx::MatMul_9312", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.4.attn.qkv.bias", "b1.a62.bias", 0, HOW_SAME},
    {"layers.1.blocks.4.attn.proj.weight", "onnx::MatMul_9317", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.4.attn.proj.bias", "b1.a63.bias", 0, HOW_SAME},
    {"layers.1.blocks.5.norm1.weight", "b1.a72.weight", 0, HOW_SAME},
    {"layers.1.blocks.5.norm1.bias", "b1.a72.bias", 0, HOW_SAME},
    {"layers.1.blocks.5.norm2.weight", "b1.a73.weight", 0, HOW_SAME},
    {"layers.1.blocks.5.norm2.bias", "b1.a73.bias", 0, HOW_SAME},
    {"layers.1.blocks.5.mlp.fc1.weight", "onnx::MatMul_9425", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.5.mlp.fc1.bias", "b1.a74.fc1.bias", 0, HOW_SAME},
    {"layers.1.blocks.5.mlp.fc2.weight", "onnx::MatMul_9426", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.5.mlp.fc2.bias", "b1.a74.fc2.bias", 0, HOW_SAME},
    {"layers.1.blocks.5.attn.earth_specific_bias", "onnx::Add_9423", 0, HOW_BIAS},
    {"layers.1.blocks.5.attn.qkv.weight", "onnx::MatMul_9419", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.5.attn.qkv.bias", "b1.a70.bias", 0, HOW_SAME},
    {"layers.1.blocks.5.attn.proj.weight", "onnx::MatMul_9424", 0, HOW_TRANSPOSE},
    {"layers.1.blocks.5.attn.proj.bias", "b1.a71.bias", 0, HOW_SAME},
    {"layers.2.blocks.0.norm1.weight", "b1.a80.weight", 0, HOW_SAME},
    {"layers.2.blocks.0.norm1.bias", "b1.a80.bias", 0, HOW_SAME},
    {"layers.2.blocks.0.norm2.weight", "b1.a81.weight", 0, HOW_SAME},
    {"layers.2.blocks.0.norm2.bias", "b1.a81.bias", 0, HOW_SAME},
    {"layers.2.blocks.0.mlp.fc1.weight", "onnx::MatMul_9438", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.0.mlp.fc1.bias", "b1.a82.fc1.bias", 0, HOW_SAME},
    {"layers.2.blocks.0.mlp.fc2.weight", "onnx::MatMul_9439", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.0.mlp.fc2.bias", "b1.a82.fc2.bias", 0, HOW_SAME},
    {"layers.2.blocks.0.attn.earth_specific_bias", "onnx::Add_9436", 0, HOW_BIAS},
    {"layers.2.blocks.0.attn.qkv.weight", "onnx::MatMul_9432", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.0.attn.qkv.bias", "b1.a78.bias", 0, HOW_SAME},
    {"layers.2.blocks.0.attn.proj.weight", "onnx::MatMul_9437", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.0.attn.proj.bias", "b1.a79.bias", 0, HOW_SAME},
    {"layers.2.blocks.1.norm1.weight", "b1.a88.weight", 0, HOW_SAME},
    {"layers.2.blocks.1.norm1.bias", "b1.a88.bias", 0, HOW_SAME},
    {"layers.2.blocks.1.norm2.weight", "b1.a89.weight", 0, HOW_SAME},
    {"layers.2.blocks.1.norm2.bias", "b1.a89.bias", 0, HOW_SAME},
    {"layers.2.blocks.1.mlp.fc1.weight", "onnx::MatMul_9545", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.1.mlp.fc1.bias", "b1.a90.fc1.bias", 0, HOW_SAME},
    {"layers.2.blocks.1.mlp.fc2.weight", "onnx::MatMul_9546", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.1.mlp.fc2.bias", "b1.a90.fc2.bias", 0, HOW_SAME},
    {"layers.2.blocks.1.attn.earth_specific_bias", "onnx::Add_9543", 0, HOW_BIAS},
    {"layers.2.blocks.1.attn.qkv.weight", "onnx::MatMul_9539", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.1.attn.qkv.bias", "b1.a86.bias", 0, HOW_SAME},
    {"layers.2.blocks.1.attn.proj.weight", "onnx::MatMul_9544", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.1.attn.proj.bias", "b1.a87.bias", 0, HOW_SAME},
    {"layers.2.blocks.2.norm1.weight", "b1.a96.weight", 0, HOW_SAME},
    {"layers.2.blocks.2.norm1.bias", "b1.a96.bias", 0, HOW_SAME},
    {"layers.2.blocks.2.norm2.weight", "b1.a97.weight", 0, HOW_SAME},
    {"layers.2.blocks.2.norm2.bias", "b1.a97.bias", 0, HOW_SAME},
    {"layers.2.blocks.2.mlp.fc1.weight", "onnx::MatMul_9558", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.2.mlp.fc1.bias", "b1.a98.fc1.bias", 0, HOW_SAME},
    {"layers.2.blocks.2.mlp.fc2.weight", "onnx::MatMul_9559", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.2.mlp.fc2.bias", "b1.a98.fc2.bias", 0, HOW_SAME},
    {"layers.2.blocks.2.attn.earth_specific_bias", "onnx::Add_9556", 0, HOW_BIAS},
    {"layers.2.blocks.2.attn.qkv.weight", "onnx::MatMul_9552", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.2.attn.qkv.bias", "b1.a94.bias", 0, HOW_SAME},
    {"layers.2.blocks.2.attn.proj.weight", "onnx::MatMul_9557", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.2.attn.proj.bias", "b1.a95.bias", 0, HOW_SAME},
    {"layers.2.blocks.3.norm1.weight", "b1.a104.weight", 0, HOW_SAME},
    {"layers.2.blocks.3.norm1.bias", "b1.a104.bias", 0, HOW_SAME},
    {"layers.2.blocks.3.norm2.weight", "b1.a105.weight", 0, HOW_SAME},
    {"layers.2.blocks.3.norm2.bias", "b1.a105.bias", 0, HOW_SAME},
    {"layers.2.blocks.3.mlp.fc1.weight", "onnx::MatMul_9665", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.3.mlp.fc1.bias", "b1.a106.fc1.bias", 0, HOW_SAME},
    {"layers.2.blocks.3.mlp.fc2.weight", "onnx::MatMul_9666", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.3.mlp.fc2.bias", "b1.a106.fc2.bias", 0, HOW_SAME},
    {"layers.2.blocks.3.attn.earth_specific_bias", "onnx::Add_9663", 0, HOW_BIAS},
    {"layers.2.blocks.3.attn.qkv.weight", "onnx::MatMul_9659", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.3.attn.qkv.bias", "b1.a102.bias", 0, HOW_SAME},
    {"layers.2.blocks.3.attn.proj.weight", "onnx::MatMul_9664", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.3.attn.proj.bias", "b1.a103.bias", 0, HOW_SAME},
    {"layers.2.blocks.4.norm1.weight", "b1.a112.weight", 0, HOW_SAME},
    {"layers.2.blocks.4.norm1.bias", "b1.a112.bias", 0, HOW_SAME},
    {"layers.2.blocks.4.norm2.weight", "b1.a113.weight", 0, HOW_SAME},
    {"layers.2.blocks.4.norm2.bias", "b1.a113.bias", 0, HOW_SAME},
    {"layers.2.blocks.4.mlp.fc1.weight", "onnx::MatMul_9678", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.4.mlp.fc1.bias", "b1.a114.fc1.bias", 0, HOW_SAME},
    {"layers.2.blocks.4.mlp.fc2.weight", "onnx::MatMul_9679", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.4.mlp.fc2.bias", "b1.a114.fc2.bias", 0, HOW_SAME},
    {"layers.2.blocks.4.attn.earth_specific_bias", "onnx::Add_9676", 0, HOW_BIAS},
    {"layers.2.blocks.4.attn.qkv.weight", "onnx::MatMul_9672", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.4.attn.qkv.bias", "b1.a110.bias", 0, HOW_SAME},
    {"layers.2.blocks.4.attn.proj.weight", "onnx::MatMul_9677", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.4.attn.proj.bias", "b1.a111.bias", 0, HOW_SAME},
    {"layers.2.blocks.5.norm1.weight", "b1.a120.weight", 0, HOW_SAME},
    {"layers.2.blocks.5.norm1.bias", "b1.a120.bias", 0, HOW_SAME},
    {"layers.2.blocks.5.norm2.weight", "b1.a121.weight", 0, HOW_SAME},
    {"layers.2.blocks.5.norm2.bias", "b1.a121.bias", 0, HOW_SAME},
    {"layers.2.blocks.5.mlp.fc1.weight", "onnx::MatMul_9785", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.5.mlp.fc1.bias", "b1.a122.fc1.bias", 0, HOW_SAME},
    {"layers.2.blocks.5.mlp.fc2.weight", "onnx::MatMul_9786", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.5.mlp.fc2.bias", "b1.a122.fc2.bias", 0, HOW_SAME},
    {"layers.2.blocks.5.attn.earth_specific_bias", "onnx::Add_9783", 0, HOW_BIAS},
    {"layers.2.blocks.5.attn.qkv.weight", "onnx::MatMul_9779", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.5.attn.qkv.bias", "b1.a118.bias", 0, HOW_SAME},
    {"layers.2.blocks.5.attn.proj.weight", "onnx::MatMul_9784", 0, HOW_TRANSPOSE},
    {"layers.2.blocks.5.attn.proj.bias", "b1.a119.bias", 0, HOW_SAME},
    {"layers.3.blocks.0.norm1.weight", "b1.a131.weight", 0, HOW_SAME},
    {"layers.3.blocks.0.norm1.bias", "b1.a131.bias", 0, HOW_SAME},
    {"layers.3.blocks.0.norm2.weight", "b1.a132.weight", 0, HOW_SAME},
    {"layers.3.blocks.0.norm2.bias", "b1.a132.bias", 0, HOW_SAME},
    {"layers.3.blocks.0.mlp.fc1.weight", "onnx::MatMul_9800", 0, HOW_TRANSPOSE},
    {"layers.3.blocks.0.mlp.fc1.bias", "b1.a133.fc1.bias", 0, HOW_SAME},
    {"layers.3.blocks.0.mlp.fc2.weight", "onnx::MatMul_9801", 0, HOW_TRANSPOSE},
    {"layers.3.blocks.0.mlp.fc2.bias", "b1.a133.fc2.bias", 0, HOW_SAME},
    {"layers.3.blocks.0.attn.earth_specific_bias", "onnx::Add_9798", 0, HOW_BIAS},
    {"layers.3.blocks.0.attn.qkv.weight", "onnx::MatMul_9794", 0, HOW_TRANSPOSE},
    {"layers.3.blocks.0.attn.qkv.bias", "b1.a129.bias", 0, HOW_SAME},
    {"layers.3.blocks.0.attn.proj.weight", "onnx::MatMul_9799", 0, HOW_TRANSPOSE},
    {"layers.3.blocks.0.attn.proj.bias", "b1.a130.bias", 0, HOW_SAME},
    {"layers.3.blocks.1.norm1.weight", "b1.a139.weight", 0, HOW_SAME},
    {"layers.3.blocks.1.norm1.bias", "b1.a139.bias", 0, HOW_SAME},
    {"layers.3.blocks.1.norm2.weight", "b1.a140.weight", 0, HOW_SAME},
    {"layers.3.blocks.1.norm2.bias", "b1.a140.bias", 0, HOW_SAME},
    {"layers.3.blocks.1.mlp.fc1.weight", "onnx::MatMul_9907", 0, HOW_TRANSPOSE},
    {"layers.3.blocks.1.mlp.fc1.bias", "b1.a141.fc1.bias", 0, HOW_SAME},
    {"layers.3.blocks.1.mlp.fc2.weight", "onnx::MatMul_9908", 0, HOW_TRANSPOSE},
    {"layers.3.blocks.1.mlp.fc2.bias", "b1.a141.fc2.bias", 0, HOW_SAME},
    {"layers.3.blocks.1.attn.earth_specific_bias", "onnx::Add_9905", 0, HOW_BIAS},
    {"layers.3.blocks.1.attn.qkv.weight", "onnx::MatMul_9901", 0, HOW_TRANSPOSE},
    {"layers.3.blocks.1.attn.qkv.bias", "b1.a137.bias", 0, HOW_SAME},
    {"layers.3.blocks.1.attn.proj.weight", "onnx::MatMul_9906", 0, HOW_TRANSPOSE},
    {"layers.3.blocks.1.attn.proj.bias", "b1.a138.bias", 0, HOW_SAME},
    {"downsample.linear.weight", "onnx::MatMul_9066", 0, HOW_TRANSPOSE},
    {"downsample.norm.weight", "b1.a26.weight", 0, HOW_SAME},
    {"downsample.norm.bias", "b1.a26.bias", 0, HOW_SAME},
    {"upsample.linear1.weight", "onnx::MatMul_9787", 0, HOW_TRANSPOSE},
    {"upsample.linear2.weight", "onnx::MatMul_9788", 0, HOW_TRANSPOSE},
    {"upsample.norm.weight", "b1.a125.weight", 0, HOW_SAME},
    {"upsample.norm.bias", "b1.a125.bias", 0, HOW_SAME},
    {"patch_recovery.conv.weight", "b1.a142.weight", 0, HOW_RECOVERY},
    {"patch_recovery.conv.bias", "b1.a142.bias", 0, HOW_FLAT},
    {"patch_recovery.conv_surface.weight", "b1.a143.weight", 0, HOW_RECOVERY},
    {"patch_recovery.conv_surface.bias", "b1.a143.bias", 0, HOW_FLAT},
    {"patch_embed.upper_constants", "/b1/Constant_17", 1, HOW_UPPER_CONSTANTS},
    {"normalization.surface_mean", "/b1/Constant_11", 1, HOW_SAME},
    {"normalization.surface_std", "/b1/Constant_12", 1, HOW_SAME},
    {"normalization.upper_mean", "/b1/Constant_9", 1, HOW_LEVELS_REVERSED},
    {"normalization.upper_std", "/b1/Constant_10", 1, HOW_LEVELS_REVERSED},
    {"patch_embed.constants", "/b1/Constant_44", 1, HOW_CONSTANTS},
    {"normalization.upper_std", "/b1/Constant_3291", 1, HOW_CHECK_UPPER},
    {"normalization.upper_mean", "/b1/Constant_3292", 1, HOW_CHECK_UPPER},
    {"normalization.surface_std", "/b1/Constant_3293", 1, HOW_CHECK_SURFACE},
    {"normalization.surface_mean", "/b1/Constant_3294", 1, HOW_CHECK_SURFACE},
};
enum { NNAMES = sizeof names / sizeof names[0] };

const char *model_onnx_tensor_name(int i, const char **onnx_name, int *constant_node) {
    if (i < 0 || i >= NNAMES) return NULL;
    if (onnx_name) *onnx_name = names[i].onnx;
    if (constant_node) *constant_node = names[i].constant_node;
    return names[i].tensor;
}

/* The released files' fixed architecture. */
static const int official_depths[4] = {2, 6, 6, 2}, official_window[3] = {2, 6, 12}, official_patch[3] = {2, 4, 4};
static const float levels13[13] = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50};

/* ---- protobuf-c allocator: large blocks on their own mappings ---- */

enum { HEADER = 64, BIG = 1 << 20 };
typedef struct {
    int failed;
} alloc_state;

static void *pb_alloc(void *data, size_t size) {
    alloc_state *st = data;
    if (size > SIZE_MAX - HEADER) return st->failed = 1, NULL;
    size_t total = size + HEADER;
    unsigned char *p;
    if (size >= BIG) {
        p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) p = NULL;
    } else
        p = malloc(total);
    if (!p) return st->failed = 1, NULL;
    memcpy(p, &size, sizeof size);
    return p + HEADER; /* 16-byte aligned from malloc, 64 from mmap: floats can be read in place */
}

static void pb_free(void *data, void *ptr) {
    (void)data;
    if (!ptr) return;
    unsigned char *p = (unsigned char *)ptr - HEADER;
    size_t size;
    memcpy(&size, p, sizeof size);
    if (size >= BIG) munmap(p, size + HEADER);
    else free(p);
}

/* ---- nesting depth, measured before protobuf-c unpacks ---- */

/* protobuf-c unpacks each sub-message by recursion, so a file nesting
 * messages thousands deep (a graph in an attribute in a node in a graph ...)
 * overflows the stack. The depth is measured first without recursion and
 * limited as the onnx project's own loader limits it: onnx/onnx
 * onnx/proto_utils.h, ParseProtoFromBytes, parses with a CodedInputStream
 * left at protobuf's default recursion limit of 100 nested messages
 * (protocolbuffers/protobuf src/google/protobuf/io/coded_stream.cc,
 * default_recursion_limit_). The released files nest 6 deep. */
enum { MAX_NESTING = 100 };
enum { NEST_OK, NEST_DEEP, NEST_MALFORMED };

typedef struct {
    const ProtobufCMessageDescriptor *desc;
    size_t end;
} nest_frame;

/* A varint of at most max_bytes (protobuf-c reads tags and lengths of 5
 * bytes at most, values of 10). */
static int read_varint(const uint8_t *p, size_t end, size_t *at, int max_bytes, uint64_t *value) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes && *at < end; i++) {
        uint8_t b = p[(*at)++];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) return *value = v, 1;
    }
    return 0;
}

/* Skips one field's value, or enters it when the schema says it is a
 * message (the fields protobuf-c would unpack by recursion). */
static int nest_field(const uint8_t *p, nest_frame *stack, int *depth, size_t *at) {
    const nest_frame *top = &stack[*depth];
    uint64_t tag, v;
    if (!read_varint(p, top->end, at, 5, &tag) || (uint32_t)(tag >> 3) == 0) return NEST_MALFORMED;
    switch (tag & 7) {
    case 0: return read_varint(p, top->end, at, 10, &v) ? NEST_OK : NEST_MALFORMED;
    case 1: return top->end - *at < 8 ? NEST_MALFORMED : (*at += 8, NEST_OK);
    case 5: return top->end - *at < 4 ? NEST_MALFORMED : (*at += 4, NEST_OK);
    case 2: break;
    default: return NEST_MALFORMED; /* groups: protobuf-c refuses them too */
    }
    if (!read_varint(p, top->end, at, 5, &v) || v > top->end - *at) return NEST_MALFORMED;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(top->desc, (uint32_t)(tag >> 3));
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE) return *at += v, NEST_OK;
    if (*depth == MAX_NESTING) return NEST_DEEP;
    stack[++*depth] = (nest_frame){f->descriptor, *at + v};
    return NEST_OK;
}

/* NEST_OK, NEST_DEEP or NEST_MALFORMED for a serialized ModelProto. */
static int nesting(const uint8_t *p, size_t len) {
    nest_frame stack[MAX_NESTING + 1] = {{&onnx__model_proto__descriptor, len}};
    int depth = 0, status = NEST_OK;
    size_t at = 0;
    while (status == NEST_OK) {
        if (at == stack[depth].end) {
            if (depth-- == 0) break;
        } else
            status = nest_field(p, stack, &depth, &at);
    }
    return status;
}

/* protobuf-c's unpack into *mp, after the nesting is measured. */
static int unpack_model(const char *name, const void *data, size_t len, ProtobufCAllocator *alloc,
                        Onnx__ModelProto **mp) {
    int nest = nesting(data, len);
    if (nest == NEST_DEEP)
        return util_fail(UTIL_EFORMAT, "%s: ONNX messages nested more than %d deep: not read (the onnx project's "
                         "loader stops at %d too)", name, MAX_NESTING, MAX_NESTING);
    *mp = nest == NEST_OK ? onnx__model_proto__unpack(alloc, len, data) : NULL;
    if (*mp) return UTIL_OK;
    if (((alloc_state *)alloc->allocator_data)->failed)
        return util_fail(UTIL_ENOMEM, "%s: out of memory parsing the ONNX file (%zu MB)", name, len >> 20);
    return util_fail(UTIL_EFORMAT, "%s: not an ONNX model (protobuf parse failed: truncated or another format?)",
                     name);
}

/* ---- finding and reading tensors ---- */

typedef struct {
    const char *path; /* for messages */
    const char *dir;  /* directory of external data files, NULL: external data refused */
    ProtobufCAllocator *alloc;
    Onnx__TensorProto *found[NNAMES];
} importer;

static void dims_text(char *buf, size_t cap, const int64_t *d, int n) {
    buf[0] = 0;
    for (int i = 0; i < n; i++) snprintf(buf + strlen(buf), cap - strlen(buf), i ? ", %lld" : "%lld", (long long)d[i]);
}

/* Every named tensor present once, as an initializer or a Constant node's value. */
static int collect(importer *x, const Onnx__GraphProto *g) {
    int missing = 0, first_missing = -1;
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *t = g->initializer[i];
        if (!t || !t->name) continue;
        for (int k = 0; k < NNAMES; k++)
            if (strcmp(t->name, names[k].onnx) == 0) {
                if (x->found[k]) return util_fail(UTIL_EFORMAT, "%s: tensor '%s' appears twice", x->path, names[k].onnx);
                x->found[k] = t;
            }
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (!n || !n->name || !n->op_type || strcmp(n->op_type, "Constant") != 0) continue;
        for (int k = 0; k < NNAMES; k++) {
            if (strcmp(n->name, names[k].onnx) != 0) continue;
            Onnx__TensorProto *t = NULL;
            for (size_t a = 0; a < n->n_attribute; a++)
                if (n->attribute[a] && n->attribute[a]->name && strcmp(n->attribute[a]->name, "value") == 0)
                    t = n->attribute[a]->t;
            if (!t)
                return util_fail(UTIL_EFORMAT, "%s: Constant node '%s' has no tensor 'value'", x->path, names[k].onnx);
            if (x->found[k]) return util_fail(UTIL_EFORMAT, "%s: tensor '%s' appears twice", x->path, names[k].onnx);
            x->found[k] = t;
        }
    }
    for (int k = 0; k < NNAMES; k++)
        if (!x->found[k] && missing++ == 0) first_missing = k;
    if (missing)
        return util_fail(UTIL_EFORMAT,
                         "%s: not a Pangu-Weather ONNX file: %d of its %d tensors missing, e.g. '%s' (%s)", x->path,
                         missing, NNAMES, names[first_missing].onnx, names[first_missing].tensor);
    return UTIL_OK;
}

static int find(const char *onnx_name) {
    for (int k = 0; k < NNAMES; k++)
        if (strcmp(names[k].onnx, onnx_name) == 0) return k;
    return -1;
}

static int check_dims(const importer *x, int k, const int64_t *want, int n) {
    const Onnx__TensorProto *t = x->found[k];
    int same = (int)t->n_dims == n;
    for (int i = 0; same && i < n; i++) same = t->dims[i] == want[i];
    if (same) return UTIL_OK;
    char got[160], exp[160];
    dims_text(got, sizeof got, t->dims, t->n_dims > 8 ? 8 : (int)t->n_dims);
    dims_text(exp, sizeof exp, want, n);
    return util_fail(UTIL_EFORMAT, "%s: tensor '%s' (%s) has shape (%s), expected (%s)", x->path, names[k].onnx,
                     names[k].tensor, got, exp);
}

/* 1 when the resolved path `real` lies inside the resolved folder `base`. */
static int path_inside(const char *real, const char *base) {
    size_t n = strlen(base);
    if (strncmp(real, base, n) != 0) return 0;
    return n == 1 ? real[1] != 0 : real[n] == '/';
}

/* Opens an external data file as the onnx project does (onnx/onnx
 * onnx/checker.cc, resolve_external_data_location and open_external_data;
 * docs/ExternalDataSecurity.md; the symlink checks of onnx pull request
 * #7628 and later): the path with every link resolved inside the model's
 * folder, no link as its last part (O_NOFOLLOW), a regular file with one
 * link, the file opened being the one checked. O_NONBLOCK: a FIFO must not
 * block the open before fstat refuses it. */
static int open_external(const importer *x, int k, const char *file, int *fd, struct stat *st) {
    *fd = -1;
    char base[PATH_MAX], real[PATH_MAX];
    const char *tensor_name = names[k].onnx;
    if (!realpath(x->dir, base))
        return util_fail(UTIL_EIO, "%s: tensor '%s': cannot resolve the model's folder %s: %s", x->path,
                         tensor_name, x->dir, strerror(errno));
    if (!realpath(file, real))
        return util_fail(UTIL_EIO, "%s: tensor '%s': cannot open its external data file %s: %s", x->path,
                         tensor_name, file, strerror(errno));
    if (!path_inside(real, base))
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s': external data file %s leads to %s, outside the model's "
                         "folder %s", x->path, tensor_name, file, real, base);
    if ((*fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 && errno == ELOOP)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s': external data file %s: a symbolic link (the onnx checker "
                         "refuses them too: copy the file into the model's folder)", x->path, tensor_name, file);
    if (*fd < 0)
        return util_fail(UTIL_EIO, "%s: tensor '%s': cannot open its external data file %s: %s", x->path,
                         tensor_name, file, strerror(errno));
    struct stat named;
    const char *refusal = NULL;
    if (fstat(*fd, st) != 0 || stat(real, &named) != 0) refusal = strerror(errno);
    else if (!S_ISREG(st->st_mode)) refusal = "not a regular file (a FIFO, device or folder)";
    else if (st->st_nlink > 1) refusal = "a file with several hard links (the onnx checker refuses them too)";
    else if (st->st_dev != named.st_dev || st->st_ino != named.st_ino) refusal = "replaced while it was opened";
    if (!refusal) return UTIL_OK;
    close(*fd);
    *fd = -1;
    return util_fail(UTIL_EFORMAT, "%s: tensor '%s': external data file %s: %s", x->path, tensor_name, file,
                     refusal);
}

/* The external data of tensor k, `count` floats: `location` relative to the
 * model's folder, `offset` and `length` in bytes; its file opened into *fd
 * and checked to hold them (file: its path, for messages). */
static int external_file(const importer *x, int k, size_t count, int *fd, long long *offset, char *file) {
    const Onnx__TensorProto *t = x->found[k];
    const char *location = NULL;
    long long length = -1;
    *fd = -1, *offset = 0;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = t->external_data[i];
        if (!e || !e->key || !e->value) continue;
        char *end;
        if (strcmp(e->key, "location") == 0) location = e->value;
        else if (strcmp(e->key, "offset") == 0 || strcmp(e->key, "length") == 0) {
            errno = 0;
            long long v = strtoll(e->value, &end, 10);
            if (errno || end == e->value || *end || v < 0)
                return util_fail(UTIL_EFORMAT, "%s: tensor '%s': external data %s '%s' is not a byte count", x->path,
                                 names[k].onnx, e->key, e->value);
            if (e->key[0] == 'o') *offset = v;
            else length = v;
        }
    }
    if (!x->dir)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s' is stored as external data, not readable here", x->path,
                         names[k].onnx);
    if (!location || !location[0])
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s': external data without a location", x->path, names[k].onnx);
    /* ONNX places external data beside the model: refuse paths that leave its directory */
    if (location[0] == '/' || strstr(location, "..") != NULL)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s': external data location '%s' is not a file beside the model",
                         x->path, names[k].onnx, location);
    size_t bytes = count * sizeof(float);
    if (length >= 0 && (unsigned long long)length != bytes)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s': external data length %lld, expected %zu bytes", x->path,
                         names[k].onnx, length, bytes);
    if (snprintf(file, PATH_MAX, "%s/%s", x->dir, location) >= PATH_MAX)
        return util_fail(UTIL_EINVAL, "%s: external data path too long", x->path);
    struct stat st;
    int status = open_external(x, k, file, fd, &st);
    if (status || (st.st_size >= *offset && (unsigned long long)(st.st_size - *offset) >= bytes)) return status;
    close(*fd);
    *fd = -1;
    return util_fail(UTIL_EFORMAT, "%s: tensor '%s': external data file %s holds %lld bytes, needs %lld", x->path,
                     names[k].onnx, file, (long long)st.st_size, *offset + (long long)bytes);
}

/* Read tensor k's `count` floats from its external data into *owned. */
static int read_external(const importer *x, int k, size_t count, float **owned) {
    char file[PATH_MAX];
    long long offset;
    int fd, status = external_file(x, k, count, &fd, &offset, file);
    if (status) return status;
    size_t bytes = count * sizeof(float);
    if (!(*owned = util_aligned_alloc(bytes ? bytes : 1))) {
        status = util_fail(UTIL_ENOMEM, "out of memory reading tensor '%s' (%zu MB)", names[k].onnx, bytes >> 20);
        goto done;
    }
    for (size_t got = 0; got < bytes;) {
        ssize_t r = pread(fd, (char *)*owned + got, bytes - got, (off_t)offset + (off_t)got);
        if (r <= 0) {
            status = util_fail(UTIL_EIO, "%s: tensor '%s': cannot read its external data file %s", x->path,
                               names[k].onnx, file);
            goto done;
        }
        got += (size_t)r;
    }
done:
    close(fd);
    if (status) free(*owned), *owned = NULL;
    return status;
}

/* The float32 values of tensor k (count of them): in place in the parsed
 * message, or read from external data into *owned. */
static int tensor_values(const importer *x, int k, size_t count, const float **values, float **owned) {
    const Onnx__TensorProto *t = x->found[k];
    *owned = NULL;
    if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s' (%s) has data type %d, expected FLOAT (1)", x->path,
                         names[k].onnx, names[k].tensor, t->has_data_type ? (int)t->data_type : 0);
    int status = UTIL_OK;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        if ((status = read_external(x, k, count, owned))) return status;
        *values = *owned;
    } else if (t->raw_data.len > 0 || t->has_raw_data) {
        if (t->raw_data.len != count * sizeof(float))
            return util_fail(UTIL_EFORMAT, "%s: tensor '%s' holds %zu bytes, expected %zu (%zu floats)", x->path,
                             names[k].onnx, t->raw_data.len, count * sizeof(float), count);
        if ((uintptr_t)t->raw_data.data % sizeof(float) == 0) *values = (const float *)t->raw_data.data;
        else { /* raw bytes are little-endian floats: copied when not aligned */
            if (!(*owned = util_aligned_alloc(count * sizeof(float)))) return util_fail(UTIL_ENOMEM, "out of memory");
            memcpy(*owned, t->raw_data.data, count * sizeof(float));
            *values = *owned;
        }
    } else if (t->n_float_data == count) {
        *values = t->float_data;
    } else
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s' holds %zu values, expected %zu", x->path, names[k].onnx,
                         t->n_float_data, count);
    for (size_t i = 0; i < count; i++)
        if (!isfinite((*values)[i])) {
            free(*owned), *owned = NULL;
            return util_fail(UTIL_ENAN, "%s: tensor '%s' (%s) holds a non-finite value at element %zu", x->path,
                             names[k].onnx, names[k].tensor, i);
        }
    return UTIL_OK;
}

/* The tensor stores `count` values (checked before they are read, so that
 * a file's shapes cannot make the importer allocate what its data lacks). */
static int stored_count(const importer *x, int k, size_t count) {
    const Onnx__TensorProto *t = x->found[k];
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        char file[PATH_MAX];
        long long offset;
        int fd, status = external_file(x, k, count, &fd, &offset, file);
        if (!status) close(fd);
        return status;
    }
    if (t->raw_data.len == count * sizeof(float) || (!t->raw_data.len && t->n_float_data == count)) return UTIL_OK;
    if (t->raw_data.len)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s' holds %zu bytes, expected %zu (%zu floats)", x->path,
                         names[k].onnx, t->raw_data.len, count * sizeof(float), count);
    return util_fail(UTIL_EFORMAT, "%s: tensor '%s' holds %zu values, expected %zu", x->path, names[k].onnx,
                     t->n_float_data, count);
}

/* Give tensor k's bytes back as soon as they are converted. */
static void release(importer *x, int k) {
    Onnx__TensorProto *t = x->found[k];
    if (t->raw_data.data) x->alloc->free(x->alloc->allocator_data, t->raw_data.data);
    if (t->float_data) x->alloc->free(x->alloc->allocator_data, t->float_data);
    t->raw_data.data = NULL, t->raw_data.len = 0, t->has_raw_data = 0;
    t->float_data = NULL, t->n_float_data = 0;
}

/* ---- the configuration from the tensors' shapes ---- */

static int infer_config(const importer *x, model_config *c, int lead_hours) {
    memset(c, 0, sizeof *c);
    int kc = find("/b1/Constant_17"), kb = find("b1.a1.bias");
    const Onnx__TensorProto *uc = x->found[kc], *eb = x->found[kb];
    if (uc->n_dims != 6 || uc->dims[0] != 1 || uc->dims[1] != 1 || uc->dims[2] != 1)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s' (const_h) should be (1, 1, 1, L, H, W), it has %zu dimensions",
                         x->path, names[kc].onnx, uc->n_dims);
    if (uc->dims[3] < 1 || uc->dims[3] > 13 || uc->dims[4] < 1 || uc->dims[4] > 100000 || uc->dims[5] < 1 ||
        uc->dims[5] > 100000)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s' (const_h) has shape (1, 1, 1, %lld, %lld, %lld): expected at "
                         "most 13 levels and a plausible grid", x->path, names[kc].onnx, (long long)uc->dims[3],
                         (long long)uc->dims[4], (long long)uc->dims[5]);
    if (eb->n_dims != 1 || eb->dims[0] < 1 || eb->dims[0] > 100000)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s' (patch_embed.conv.bias) should be (C)", x->path, names[kb].onnx);
    c->nlev = (int)uc->dims[3], c->H = (int)uc->dims[4], c->W = (int)uc->dims[5];
    memcpy(c->levels, levels13, sizeof(float) * c->nlev);
    c->dim = (int)eb->dims[0];
    memcpy(c->depths, official_depths, sizeof c->depths);
    memcpy(c->window, official_window, sizeof c->window);
    memcpy(c->patch, official_patch, sizeof c->patch);
    c->lead_hours = lead_hours;
    c->upper_constants = 1, c->recovery_bias_position = 1, c->padded_constants = 1, c->full_bias = 1;
    for (int l = 0; l < 4; l++) {
        char name[96];
        snprintf(name, sizeof name, "layers.%d.blocks.0.attn.earth_specific_bias", l);
        for (int k = 0; k < NNAMES; k++)
            if (strcmp(names[k].tensor, name) == 0) {
                const Onnx__TensorProto *t = x->found[k];
                if (t->n_dims != 5 || t->dims[2] < 1 || t->dims[2] > 4096)
                    return util_fail(UTIL_EFORMAT, "%s: tensor '%s' (%s) should be (1, types, heads, N, N)", x->path,
                                     names[k].onnx, name);
                c->heads[l] = (int)t->dims[2];
            }
    }
    if (model_config_derive(c)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", util_last_message());
        return util_fail(UTIL_EFORMAT, "%s: the tensors' shapes make no valid model: %s", x->path, msg);
    }
    return UTIL_OK;
}

/* Expected ONNX dimensions of row k for a model tensor t. */
static int expected_dims(const model_config *c, int how, const model_tensor *t, int64_t *d) {
    size_t rest = t->shape[0] ? t->count / (size_t)t->shape[0] : 0;
    switch (how) {
    case HOW_SAME:
        for (int i = 0; i < t->rank; i++) d[i] = t->shape[i];
        return t->rank;
    case HOW_CHANNELS: d[0] = t->shape[0], d[1] = (int64_t)rest, d[2] = 1; return 3;
    case HOW_TRANSPOSE: d[0] = t->shape[1], d[1] = t->shape[0]; return 2;
    case HOW_RECOVERY: d[0] = (int64_t)rest, d[1] = t->shape[0], d[2] = 1; return 3;
    case HOW_FLAT: d[0] = (int64_t)t->count; return 1;
    case HOW_UPPER_CONSTANTS: d[0] = d[1] = d[2] = 1, d[3] = c->nlev, d[4] = c->H, d[5] = c->W; return 6;
    case HOW_LEVELS_REVERSED: d[0] = c->nlev, d[1] = d[2] = 1, d[3] = MODEL_NUPPER; return 4;
    case HOW_CONSTANTS: d[0] = 1, d[1] = MODEL_NCONST, d[2] = c->Hp, d[3] = c->Wp; return 4;
    case HOW_CHECK_UPPER: d[0] = MODEL_NUPPER, d[1] = 1, d[2] = c->nlev, d[3] = d[4] = 1; return 5;
    case HOW_CHECK_SURFACE: d[0] = MODEL_NSURFACE, d[1] = d[2] = d[3] = 1; return 4;
    }
    return 0;
}

/* ---- the Earth-specific bias: compact when the expanded form allows ---- */

/* first[p]: the first (query, key) pair that reads table row p. */
static void first_pairs(int *first, const int *index, int P, int NN) {
    for (int p = 0; p < P; p++) first[p] = -1;
    for (int q = 0; q < NN; q++)
        if (first[index[q]] < 0) first[index[q]] = q;
}

/* 1 when every pair that shares a table row holds the same value. */
static int is_compact(const float *full, const int *index, const int *first, int slices, int NN) {
    for (int s = 0; s < slices; s++) {
        const float *b = full + (size_t)s * NN;
        for (int q = 0; q < NN; q++)
            if (b[q] != b[first[index[q]]]) return 0;
    }
    return 1;
}

/* Pass 1, before anything is allocated for the model: every tensor's shape
 * and stored size; *compact: whether every bias has the compact structure. */
static int check_tensors(importer *x, const model_config *c, const int *index, const int *first, int *compact) {
    int status = UTIL_OK, N = c->window[0] * c->window[1] * c->window[2], NN = N * N;
    model table;
    if ((status = model_create_table(&table, c))) return status;
    for (int k = 0; k < NNAMES && !status; k++) {
        if (names[k].how == HOW_BIAS) continue;
        const model_tensor *t = model_find_tensor(&table, names[k].tensor);
        int64_t want[8];
        if (!t) status = util_fail(UTIL_EINVAL, "internal: no model tensor '%s'", names[k].tensor);
        else status = check_dims(x, k, want, expected_dims(c, names[k].how, t, want));
    }
    model_free(&table);
    *compact = 1;
    for (int k = 0; k < NNAMES && !status; k++) {
        if (names[k].how != HOW_BIAS) continue;
        int l = names[k].tensor[7] - '0'; /* "layers.L.blocks..." */
        int Hl = (l == 1 || l == 2) ? c->H2 : c->Ht;
        int64_t want[5] = {1, model_window_types(c, Hl), c->heads[l], N, N};
        if ((status = check_dims(x, k, want, 5))) break;
        size_t count = (size_t)want[1] * want[2] * NN;
        if ((status = stored_count(x, k, count))) break;
        if (!*compact) continue;
        const float *v;
        float *owned;
        if ((status = tensor_values(x, k, count, &v, &owned))) break;
        *compact = is_compact(v, index, first, (int)(want[1] * want[2]), NN);
        free(owned);
    }
    for (int k = 0; k < NNAMES && !status; k++) {
        if (names[k].how == HOW_BIAS) continue;
        size_t count = 1;
        for (size_t i = 0; i < x->found[k]->n_dims; i++) count *= (size_t)x->found[k]->dims[i];
        status = stored_count(x, k, count);
    }
    return status;
}

/* ONNX tensor k's values v into the model's tensor t at dst; a bias
 * (types x heads slices of NN pairs) kept whole or as its compact table. */
static void convert_tensor(float *dst, const float *v, int k, const model_tensor *t, const model_config *c,
                           const int *first, int types, int heads) {
    int how = names[k].how, N = c->window[0] * c->window[1] * c->window[2], NN = N * N;
    int P = c->window[0] * c->window[0] * c->window[1] * c->window[1] * (2 * c->window[2] - 1);
    switch (how) {
    case HOW_TRANSPOSE:
    case HOW_RECOVERY: { /* onnx (rows, cols) -> model (cols, rows) */
        size_t rows = how == HOW_TRANSPOSE ? (size_t)t->shape[1] : t->count / (size_t)t->shape[0];
        size_t cols = (size_t)t->shape[0];
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) dst[j * rows + i] = v[i * cols + j];
        break;
    }
    case HOW_LEVELS_REVERSED:
        for (int var = 0; var < MODEL_NUPPER; var++)
            for (int lev = 0; lev < c->nlev; lev++)
                dst[var * c->nlev + lev] = v[(size_t)(c->nlev - 1 - lev) * MODEL_NUPPER + var];
        break;
    case HOW_BIAS:
        if (c->full_bias) memcpy(dst, v, sizeof(float) * (size_t)types * heads * NN);
        else /* table (P, types, heads) from the first pair reading each row */
            for (int p = 0; p < P; p++)
                for (int s = 0; s < types * heads; s++)
                    dst[(size_t)p * types * heads + s] = v[(size_t)s * NN + first[p]];
        break;
    default: memcpy(dst, v, sizeof(float) * t->count);
    }
}

/* Pass 2: every tensor into the model, each released once converted (the
 * output statistics, checks only, are left for check_statistics). */
static int import_tensors(model *m, importer *x, const int *first) {
    const model_config *c = &m->cfg;
    int status = UTIL_OK, N = c->window[0] * c->window[1] * c->window[2];
    for (int k = 0; k < NNAMES && !status; k++) {
        int how = names[k].how;
        const model_tensor *t = model_find_tensor(m, names[k].tensor);
        if (!t) return util_fail(UTIL_EINVAL, "internal: no model tensor '%s'", names[k].tensor);
        const float *v;
        float *owned = NULL;
        int types = 0, heads = 0;
        if (how == HOW_BIAS) {
            int l = names[k].tensor[7] - '0';
            types = model_window_types(c, (l == 1 || l == 2) ? c->H2 : c->Ht), heads = c->heads[l];
        }
        size_t count = how == HOW_BIAS ? (size_t)types * heads * N * N : t->count;
        if (how == HOW_CHECK_UPPER || how == HOW_CHECK_SURFACE) continue; /* after every input statistic */
        if ((status = tensor_values(x, k, count, &v, &owned))) break;
        convert_tensor(m->params + t->offset, v, k, t, c, first, types, heads);
        free(owned);
        release(x, k);
    }
    return status;
}

/* The graph de-normalises its outputs itself: with the same statistics;
 * and every std positive. */
static int check_statistics(const model *m, importer *x) {
    const model_config *c = &m->cfg;
    int status = UTIL_OK;
    for (int k = 0; k < NNAMES && !status; k++) {
        if (names[k].how != HOW_CHECK_UPPER && names[k].how != HOW_CHECK_SURFACE) continue;
        const model_tensor *t = model_find_tensor(m, names[k].tensor);
        const float *v, *have = m->params + t->offset;
        float *owned;
        if ((status = tensor_values(x, k, t->count, &v, &owned))) break;
        for (size_t i = 0; i < t->count && !status; i++)
            if (!(fabsf(v[i] - have[i]) <= 1e-8f + 1e-5f * fabsf(have[i]))) /* torch.allclose */
                status = util_fail(UTIL_EFORMAT,
                                   "%s: the output statistics '%s' disagree with the input statistics %s "
                                   "(element %zu: %g against %g)",
                                   x->path, names[k].onnx, names[k].tensor, i, v[i], have[i]);
        free(owned);
    }
    for (int i = 0; i < MODEL_NUPPER * c->nlev && !status; i++)
        if (!(m->upper_std[i] > 0))
            status = util_fail(UTIL_EFORMAT, "%s: upper-air std of %s at %g hPa is %g, expected > 0", x->path,
                               model_upper_names[i / c->nlev], c->levels[i % c->nlev], m->upper_std[i]);
    for (int i = 0; i < MODEL_NSURFACE && !status; i++)
        if (!(m->surface_std[i] > 0))
            status = util_fail(UTIL_EFORMAT, "%s: surface std of %s is %g, expected > 0", x->path,
                               model_surface_names[i], m->surface_std[i]);
    return status;
}

static int import_parsed(model *m, importer *x, const Onnx__ModelProto *mp, int lead_hours) {
    model_config c;
    int status, *first = NULL, compact;
    if (!mp->graph) return util_fail(UTIL_EFORMAT, "%s: an ONNX model without a graph", x->path);
    if ((status = collect(x, mp->graph)) || (status = infer_config(x, &c, lead_hours))) return status;
    int N = c.window[0] * c.window[1] * c.window[2], NN = N * N;
    int P = c.window[0] * c.window[0] * c.window[1] * c.window[1] * (2 * c.window[2] - 1);
    int *index = malloc(sizeof(int) * (size_t)NN);
    first = malloc(sizeof(int) * (size_t)P);
    if (!index || !first) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    model_bias_index(index, c.window);
    first_pairs(first, index, P, NN);
    if ((status = check_tensors(x, &c, index, first, &compact))) goto done;
    c.full_bias = !compact;
    if ((status = model_create(m, &c))) goto done;
    if ((status = import_tensors(m, x, first)) || (status = check_statistics(m, x))) model_free(m);
done:
    free(index);
    free(first);
    return status;
}

int model_onnx_import_memory(model *m, const void *data, size_t len, const char *name, const char *dir,
                             int lead_hours) {
    memset(m, 0, sizeof *m);
    if (lead_hours < 1) return util_fail(UTIL_EINVAL, "%s: lead time %d h: expected positive", name, lead_hours);
    alloc_state st = {0};
    ProtobufCAllocator alloc = {pb_alloc, pb_free, &st};
    importer x = {.path = name, .dir = dir, .alloc = &alloc};
    Onnx__ModelProto *mp;
    int status = unpack_model(name, data, len, &alloc, &mp);
    if (status) return status;
    status = import_parsed(m, &x, mp, lead_hours);
    onnx__model_proto__free_unpacked(mp, &alloc);
    return status;
}

int model_onnx_lead_from_name(const char *path, int *lead_hours) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *prefix = "pangu_weather_";
    size_t n = strlen(prefix);
    if (strncmp(base, prefix, n) != 0) return UTIL_EINVAL;
    const char *p = base + n;
    long v = 0;
    int digits = 0;
    while (isdigit((unsigned char)*p) && digits < 6) v = v * 10 + (*p++ - '0'), digits++;
    if (!digits || strcmp(p, ".onnx") != 0 || v < 1) return UTIL_EINVAL;
    *lead_hours = (int)v;
    return UTIL_OK;
}

int model_onnx_import(model *m, const char *path, int lead_hours) {
    memset(m, 0, sizeof *m);
    int status = UTIL_OK;
    if (lead_hours <= 0 && model_onnx_lead_from_name(path, &lead_hours) != UTIL_OK)
        return util_fail(UTIL_EINVAL,
                         "%s: cannot tell the lead time: give it (--lead H) or name the file pangu_weather_H.onnx, as "
                         "the released files are named (1, 3, 6, 24)",
                         path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return util_fail(UTIL_EIO, "%s: cannot open the ONNX file: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return util_fail(UTIL_EIO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return util_fail(UTIL_EFORMAT, "%s: empty file, not an ONNX model", path);
    }
    void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED) return util_fail(UTIL_EIO, "%s: cannot map the file: %s", path, strerror(errno));
    madvise(data, (size_t)st.st_size, MADV_SEQUENTIAL);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    /* Parse, then drop the mapping before the tensors are converted. */
    alloc_state as = {0};
    ProtobufCAllocator alloc = {pb_alloc, pb_free, &as};
    importer x = {.path = path, .dir = dir, .alloc = &alloc};
    Onnx__ModelProto *mp;
    status = unpack_model(path, data, (size_t)st.st_size, &alloc, &mp);
    munmap(data, (size_t)st.st_size);
    if (status) return status;
    status = import_parsed(m, &x, mp, lead_hours);
    onnx__model_proto__free_unpacked(mp, &alloc);
    return status;
}
