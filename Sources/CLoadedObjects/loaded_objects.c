#define _GNU_SOURCE
#include "CLoadedObjects.h"

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>
#include <unistd.h>

struct walk {
    void (*visit)(void *context, uintptr_t start, uintptr_t end);
    void *context;
    uintptr_t vdso;
    uintptr_t page;
    int visited;
};

/// Whether the object's dynamic section asks for text relocations: then the loader writes to its code.
static int has_text_relocations(const struct dl_phdr_info *info) {
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_DYNAMIC) continue;
        for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr); d->d_tag != DT_NULL; d++) {
            if (d->d_tag == DT_TEXTREL) return 1;
            if (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL)) return 1;
        }
    }
    return 0;
}

static int each_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct walk *walk = data;
    // The vDSO: its segment contains the ELF header the kernel announced.
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && walk->vdso >= start && walk->vdso < start + ph->p_memsz) return 0;
    }
    if (has_text_relocations(info)) return 0;
    // The ranges are found first and visited after: the program headers lie in the object's first
    // page, which the first visit may give back, and reading them again would map it (and, by fault-
    // around, its neighbours) straight back.
    uintptr_t starts[64], ends[64];
    int count = 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum && count < 64; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || ph->p_filesz == 0) continue;
        // The pages the loader mapped from the file for this segment, as glibc rounds them.
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(walk->page - 1);
        uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_filesz + walk->page - 1) & ~(walk->page - 1);
        // Without a page of a writable segment: linked for smaller pages than the kernel's (or by a
        // script that packs segments), a writable segment can share a page with this one, and wins it.
        for (ElfW(Half) j = 0; j < info->dlpi_phnum; j++) {
            const ElfW(Phdr) *w = &info->dlpi_phdr[j];
            if (w->p_type != PT_LOAD || !(w->p_flags & PF_W)) continue;
            uintptr_t wstart = (info->dlpi_addr + w->p_vaddr) & ~(walk->page - 1);
            uintptr_t wend = (info->dlpi_addr + w->p_vaddr + w->p_memsz + walk->page - 1) & ~(walk->page - 1);
            if (wend <= start || wstart >= end) continue;
            if (wstart <= start) start = wend < end ? wend : end;
            else end = wstart;
        }
        if (end <= start) continue;
        starts[count] = start;
        ends[count] = end;
        count++;
    }
    for (int i = 0; i < count; i++) walk->visit(walk->context, starts[i], ends[i]);
    walk->visited += count;
    return 0;
}

int podagent_each_readonly_segment(void (*visit)(void *context, uintptr_t start, uintptr_t end), void *context) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return 0;
    struct walk walk = {visit, context, (uintptr_t)getauxval(AT_SYSINFO_EHDR), (uintptr_t)page, 0};
    dl_iterate_phdr(each_object, &walk);
    return walk.visited;
}
