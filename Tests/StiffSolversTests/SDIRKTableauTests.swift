import DiffEqCore
import StiffSolvers
import Testing

/// Every (E)SDIRK tableau is validated on construction; these tests re-check what construction
/// checks and, beyond it, the order conditions of the propagated solution, of the embedded
/// solution and of the dense output (B-series, trees up to the claimed order).
@Suite struct SDIRKTableauTests {
    @Test(arguments: SDIRKMethod.allCases)
    func structure(method: SDIRKMethod) {
        let tab = method.tableau
        let s = tab.stages
        #expect(tab.name == method.rawValue)
        #expect(tab.hasExplicitFirstStage && tab.a[0] == [0] && tab.c[0] == 0)
        #expect(tab.isStifflyAccurate && tab.c[s - 1] == 1 && tab.a[s - 1] == tab.b)
        for i in 1..<s {
            #expect(tab.a[i][i] == tab.gamma)
            #expect(abs(tab.a[i].reduce(0, +) - tab.c[i]) < 1e-14)
        }
        #expect(abs(tab.b.reduce(0, +) - 1) < 1e-14)
        #expect(abs(tab.bhat.reduce(0, +) - 1) < 1e-14)
        #expect(abs(tab.btilde.reduce(0, +)) < 1e-14)
        for (i, w) in sdirkInterpolantWeights(tab, theta: 1).enumerated() { #expect(abs(w - tab.b[i]) < 1e-13) }
        #expect(sdirkInterpolantWeights(tab, theta: 0).allSatisfy { $0 == 0 })
    }

    @Test(arguments: SDIRKMethod.allCases)
    func orderConditions(method: SDIRKMethod) {
        let tab = method.tableau
        // The propagated solution satisfies every condition up to its order, and fails one of the
        // next order (so the claimed order is the order).
        #expect(sdirkOrderDefect(a: tab.a, b: tab.b, order: tab.order) < 1e-13)
        #expect(sdirkOrderDefect(a: tab.a, b: tab.b, order: tab.order + 1) > 1e-6)
        #expect(sdirkOrderDefect(a: tab.a, b: tab.bhat, order: tab.embeddedOrder) < 1e-13)
        #expect(sdirkOrderDefect(a: tab.a, b: tab.bhat, order: tab.embeddedOrder + 1) > 1e-6)
        // The dense output: Σ b_i(θ) Φ_i(τ) = θ^|τ|/γ(τ) for |τ| ≤ its order, at several θ.
        for theta in [0.1, 0.3, 0.5, 0.77, 1.0] {
            let w = sdirkInterpolantWeights(tab, theta: theta)
            #expect(sdirkOrderDefect(a: tab.a, b: w, order: tab.interpolant.order, theta: theta) < 1e-12)
        }
    }

    @Test func treeCounts() {
        #expect((1...6).map { SDIRKTree.all(order: $0).count } == [1, 1, 2, 4, 9, 20])
    }

    /// The implicit trapezoidal rule as an ESDIRK (a valid tableau), with the given entries
    /// changed: each refusal below states only what it breaks.
    static func trapezoid(
        name: String = "x", order: Int = 2, c: [Double] = [0, 1], a: [[Double]] = [[0], [0.5, 0.5]],
        b: [Double] = [0.5, 0.5], bhat: [Double] = [0, 1], isStifflyAccurate: Bool = true,
        interpolant: [[Double]] = [[0.5], [0.5]]
    ) throws(SDIRKTableauError) -> SDIRKTableau {
        try SDIRKTableau(
            name: name, order: order, embeddedOrder: 1, c: c, a: a, b: b, bhat: bhat, hasExplicitFirstStage: true,
            isStifflyAccurate: isStifflyAccurate,
            interpolant: SDIRKInterpolant(order: 1, coefficients: interpolant, source: "test"))
    }

    @Test func invalidTableausAreRefused() {
        #expect(throws: Never.self) { try Self.trapezoid(name: "trapezoid") }
        #expect(throws: SDIRKTableauError.rowSumNotC(row: 1, sum: 1, c: 0.9)) {
            try Self.trapezoid(c: [0, 0.9], isStifflyAccurate: false)
        }
        #expect(throws: SDIRKTableauError.diagonalNotConstant(row: 2, value: 0.3, gamma: 0.5)) {
            try Self.trapezoid(
                order: 1, c: [0, 1, 0.8], a: [[0], [0.5, 0.5], [0.25, 0.25, 0.3]], b: [0.25, 0.25, 0.5],
                bhat: [0, 1, 0], isStifflyAccurate: false, interpolant: [[0.25], [0.25], [0.5]])
        }
        #expect(throws: SDIRKTableauError.weightsDoNotSumToOne(which: "b̂", sum: 0.9)) {
            try Self.trapezoid(bhat: [0, 0.9])
        }
        #expect(throws: SDIRKTableauError.notStifflyAccurate("a[s][0] = 0.5 differs from b = 0.4")) {
            try Self.trapezoid(order: 1, b: [0.4, 0.6], interpolant: [[0.4], [0.6]])
        }
        #expect(throws: SDIRKTableauError.notExplicitFirstStage("a[0][0] = 0.5")) {
            try Self.trapezoid(order: 1, c: [0.5, 1], a: [[0.5], [0.5, 0.5]], isStifflyAccurate: false)
        }
        #expect(throws: SDIRKTableauError.interpolantDoesNotMatchWeights(stage: 0, value: 0.4, b: 0.5)) {
            try Self.trapezoid(interpolant: [[0.4], [0.6]])
        }
    }
}
