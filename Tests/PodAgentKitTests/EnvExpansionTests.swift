import Testing
@testable import PodAgentKit

/// Cases from kubernetes `third_party/forked/golang/expansion/expand_test.go`.
@Suite struct EnvExpansionTests {
    let mapping = EnvExpansion.mapping([["VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""],
                                        ["SERVICE": "svc"]])

    @Test(arguments: [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("foo\\$(VAR_C)bar", "foo\\Cbar"),
        ("foo\\\\$(VAR_C)bar", "foo\\\\Cbar"),
        ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
        ("$(VAR_DNE)", "$(VAR_DNE)"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
        ("$(VAR_REF)", "$(VAR_A)"),
        ("$(VAR_EMPTY)", ""),
        ("$(SERVICE)", "svc"),
        ("$(VAR_A", "$(VAR_A"),
        ("$VAR_A", "$VAR_A"),
        ("$", "$"),
        ("foo$", "foo$"),
        ("$()", "$()"),
        ("$(", "$("),
        ("$$", "$"),
        ("$(VAR_A)$", "A$"),
        ("$)", "$)"),
    ])
    func expands(input: String, expected: String) {
        #expect(EnvExpansion.expand(input, mapping) == expected)
    }

    @Test func firstContextWins() {
        let m = EnvExpansion.mapping([["X": "container"], ["X": "service"]])
        #expect(EnvExpansion.expand("$(X)", m) == "container")
    }
}
