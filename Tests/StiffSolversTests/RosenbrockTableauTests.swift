import DiffEqCore
import StiffSolvers
import Testing

/// Every Rosenbrock tableau is validated when it is built (RosenbrockTableau.init); these tests
/// check the claimed properties and that the validation catches a wrong coefficient.
@Suite struct RosenbrockTableauTests {
    @Test(arguments: RosMethod.allCases)
    func tableauShapeAndClaims(method: RosMethod) {
        let tab = method.tableau
        #expect(tab.name == method.rawValue)
        let s = tab.stages
        #expect(tab.a.count == s && tab.C.count == s && tab.m.count == s && tab.d.count == s)
        #expect(tab.errorWeights.count == s)
        #expect(tab.dense.allSatisfy { $0.count == s })
        #expect(tab.isLStable)
        // A stiffly accurate pair whose embedded solution is the last stage's argument has the
        // last stage alone as its error estimate (rodas.f: ERR from AK6).
        if tab.isStifflyAccurate {
            #expect(tab.errorWeights.dropLast().allSatisfy { $0 == 0 })
            #expect(tab.errorWeights.last == 1)
            #expect(tab.c.last == 1)
        }
        switch method {
        case .rosenbrock23:
            #expect(s == 3 && tab.order == 2 && tab.embeddedOrder == 3 && tab.isFSAL && !tab.isStifflyAccurate)
        case .rodas4:
            #expect(s == 6 && tab.order == 4 && tab.embeddedOrder == 3 && tab.isStifflyAccurate && tab.dense.count == 2)
        case .rodas5P:
            #expect(s == 8 && tab.order == 5 && tab.embeddedOrder == 4 && tab.isStifflyAccurate && tab.dense.count == 3)
        }
    }

    /// Rebuilding each tableau from its own coefficients passes; a coefficient changed in its
    /// sixth significant digit is refused (the order conditions are checked to 1e-10).
    @Test(arguments: RosMethod.allCases)
    func validationRefusesAPerturbedCoefficient(method: RosMethod) throws {
        let t = method.tableau
        func rebuild(a: [[Double]]? = nil, C: [[Double]]? = nil, m: [Double]? = nil, lStable: Bool = true)
            throws(RosenbrockTableauError) -> RosenbrockTableau
        {
            let mhat = zip(m ?? t.m, t.errorWeights).map { $0 - $1 }
            return try RosenbrockTableau(
                name: t.name, order: t.order, embeddedOrder: t.embeddedOrder, gamma: t.gamma, a: a ?? t.a,
                C: C ?? t.C, c: t.c, d: t.d, m: m ?? t.m, mhat: mhat, dense: t.dense,
                isStifflyAccurate: t.isStifflyAccurate, isFSAL: t.isFSAL, isLStable: lStable,
                controller: t.controller)
        }
        _ = try rebuild()
        var a = t.a
        a[2][1] *= 1 + 1e-6
        #expect(throws: RosenbrockTableauError.self) { try rebuild(a: a) }
        var C = t.C
        C[2][0] *= 1 + 1e-6
        #expect(throws: RosenbrockTableauError.self) { try rebuild(C: C) }
        var m = t.m
        m[1] += 1e-6
        #expect(throws: RosenbrockTableauError.self) { try rebuild(m: m) }
    }

    @Test func validationCatchesTheKindOfError() {
        // Shape.
        #expect(throws: RosenbrockTableauError.self) {
            try RosenbrockTableau(
                name: "bad", order: 1, embeddedOrder: 1, gamma: 1, a: [[], [1]], C: [[]], c: [0, 1], d: [1, 0],
                m: [1, 0], mhat: [1, 0], dense: [], controller: .standard(order: 2))
        }
        // Linearly implicit Euler, (I − hJ)U = hf: order 1 and L-stable; claiming order 2 fails.
        let euler = { (order: Int) throws(RosenbrockTableauError) in
            try RosenbrockTableau(
                name: "LinearlyImplicitEuler", order: order, embeddedOrder: 1, gamma: 1, a: [[]], C: [[]], c: [0],
                d: [1], m: [1], mhat: [1], dense: [], isLStable: true, controller: .standard(order: 2))
        }
        #expect(throws: Never.self) { _ = try euler(1) }
        #expect {
            _ = try euler(2)
        } throws: { error in
            guard case .orderCondition(embedded: false, order: 2, _, _) = error as? RosenbrockTableauError else {
                return false
            }
            return true
        }
        // The linearly implicit midpoint rule (γ = 1/2) has order 2 but R(∞) = −1: not L-stable.
        #expect {
            _ = try RosenbrockTableau(
                name: "midpoint", order: 2, embeddedOrder: 1, gamma: 0.5, a: [[]], C: [[]], c: [0], d: [0.5],
                m: [2], mhat: [2], dense: [], isLStable: true, controller: .standard(order: 2))
        } throws: { error in
            guard case .notLStable(let r) = error as? RosenbrockTableauError else { return false }
            return abs(r + 1) < 1e-14
        }
    }
}
