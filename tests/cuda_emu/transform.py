# tests/cuda_emu/transform.py IN.cu OUT.cpp - rewrite every kernel launch
# `name<targs><<<grid, block, smem, stream>>>(args)` as `emu_launch(dim3(grid), dim3(block),
# name<targs>, args)` (tests/cuda_emu/include/cuda_runtime.h), and NULL as nullptr (so that it
# passes through the launcher's templates as a pointer).
import re, sys
src = open(sys.argv[1]).read()
out = []
i = 0
pat = re.compile(r'(\w+(?:<[^<>;]*>)?)\s*<<<', re.S)
while True:
    m = pat.search(src, i)
    if not m:
        out.append(src[i:]); break
    name = m.group(1)
    j = src.index('>>>', m.end())
    cfg = src[m.end():j]
    # split top-level commas
    parts, depth, cur = [], 0, ''
    for ch in cfg:
        if ch in '([': depth += 1
        if ch in ')]': depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
        else:
            cur += ch
    parts.append(cur)
    k = src.index('(', j)
    assert src[j+3:k].strip() == '', src[j:k]
    # matching paren
    depth = 0; e = k
    while True:
        if src[e] == '(': depth += 1
        elif src[e] == ')':
            depth -= 1
            if depth == 0: break
        e += 1
    args = src[k+1:e]
    out.append(src[i:m.start()])
    out.append('emu_launch(dim3(%s), dim3(%s), %s, %s)' % (parts[0].strip(), parts[1].strip(), name, args))
    i = e + 1
s = ''.join(out).replace('NULL', 'nullptr')
open(sys.argv[2], 'w').write(s)
