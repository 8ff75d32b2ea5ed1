import DiffEqCore

/// A published reference value of a solution, with where it comes from.
public struct ReferenceSolution: Sendable {
    /// The time of the reference state.
    public let t: Double
    /// The reference state.
    public let u: [Double]
    /// Where the numbers come from.
    public let source: String

    public init(t: Double, u: [Double], source: String) {
        self.t = t
        self.u = u
        self.source = source
    }
}

// The two accuracy measures of the IVP test set (Mazzia & Magherini, release 2.4, "Format of
// the problem descriptions", formulas (.II.1) and (.II.2)). Both are -log10 of a max-norm, so
// "7" means seven correct digits; an exact match gives +infinity.
extension ReferenceSolution {
    /// Significant correct digits (the test set's `scd`): `-log10` of the max-norm relative
    /// error of `u` against the reference, over `components` (every component by default; the
    /// test set uses the first 14 for PLEI, see ``TestProblemInfo/scdComponents``).
    ///
    /// ```swift
    /// let ref = TestProblems.hiresReference
    /// let digits = ref.significantCorrectDigits(of: finalState)
    /// ```
    ///
    /// A reference component that is exactly zero makes the relative error infinite (and the
    /// result `-infinity`) unless `u` matches it exactly.
    public func significantCorrectDigits(of u: [Double], components: Range<Int>? = nil) -> Double {
        precondition(u.count == self.u.count, "state has \(u.count) components, reference has \(self.u.count)")
        var worst = 0.0
        for i in components ?? self.u.indices {
            let error = abs(u[i] - self.u[i])
            if error > 0 { worst = max(worst, error / abs(self.u[i])) }
        }
        return -log10(worst)
    }

    /// Mixed-error significant digits (the test set's `mescd`):
    /// `-log10 max_i |u_i - ref_i| / (abstol/reltol + |ref_i|)`, over all components.
    public func mixedErrorSignificantDigits(of u: [Double], abstol: Double, reltol: Double) -> Double {
        precondition(u.count == self.u.count, "state has \(u.count) components, reference has \(self.u.count)")
        var worst = 0.0
        for i in self.u.indices {
            worst = max(worst, abs(u[i] - self.u[i]) / (abstol / reltol + abs(self.u[i])))
        }
        return -log10(worst)
    }
}

// log10 through the scalar protocol's natural logarithm keeps this module free of Foundation.
func log10(_ x: Double) -> Double { log(x) / 2.302585092994045684017991454684364208 }
