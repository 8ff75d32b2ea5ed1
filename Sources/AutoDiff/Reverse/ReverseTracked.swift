import DiffEqCore

/// A reverse-mode scalar: a value and the index of the tape slot that computed it.
///
/// Generic code over ``DiffEqScalar`` (a right-hand side, a loss) run with `Tracked` arguments
/// records every operation on the tape that created those arguments (``ReverseTape``); a
/// constant (a literal, `Tracked(2.5)`) is not recorded. Derivative conventions where one does
/// not exist are those of ``Dual``: `abs'(0) = +1`, `sqrt'(0) = +∞` (a zero adjoint still
/// contributes nothing), `d/dy x^y = 0` at `x = 0`.
///
/// Comparisons and equality look at the value, as for ``Dual``, and are recorded so that a
/// replay of the tape can tell when a branch would go the other way (see ``ReverseTape``).
/// Reading the value through the scalar protocol (`primal`, `sumOfSquaredComponents`,
/// `isFiniteScalar`) marks the recording as not replayable; ``value`` reads it without that
/// mark, for code that knows the value does not steer control flow.
///
/// A `Tracked` value is valid only while its tape is alive and until that tape is reset, and
/// only on the thread that owns the tape; it is `Sendable` because the scalar protocol requires
/// it, not because it may cross threads.
@frozen
public struct Tracked: DiffEqScalar, @unchecked Sendable {
    /// The value computed while recording.
    public let value: Double
    /// The tape slot (0 for a constant).
    @usableFromInline let index: Int32
    /// The tape's buffers, `nil` for a constant.
    @usableFromInline let tape: UnsafeMutablePointer<_TapeStorage>?

    @inlinable @inline(__always)
    init(value: Double, index: Int32, tape: UnsafeMutablePointer<_TapeStorage>?) {
        self.value = value
        self.index = index
        self.tape = tape
    }

    /// A constant (not recorded).
    @inlinable @inline(__always)
    public init(constant value: Double) {
        self.init(value: value, index: 0, tape: nil)
    }

    @inlinable @inline(__always) public init(_ value: Double) { self.init(constant: value) }
    @inlinable @inline(__always) public init(floatLiteral value: Double) { self.init(constant: value) }
    @inlinable @inline(__always) public init(integerLiteral value: Int) { self.init(constant: Double(value)) }

    @inlinable public static var zero: Tracked { Tracked(constant: 0) }

    /// `true` when this value was recorded on a tape (it depends on a variable).
    @inlinable public var isTracked: Bool { tape != nil }

    /// Marks the recording as depending on a value read outside the tape.
    @inlinable @inline(__always)
    func markEscaped() {
        if let t = tape { t.pointee.valueEscaped = true }
    }

    @inlinable public var primal: Double {
        markEscaped()
        return value
    }

    @inlinable public var sumOfSquaredComponents: Double {
        markEscaped()
        return value * value
    }

    @inlinable public static var componentCount: Int { 1 }

    @inlinable public var isFiniteScalar: Bool {
        markEscaped()
        return value.isFinite
    }

    public var description: String {
        tape == nil ? "Tracked(\(value), constant)" : "Tracked(\(value), #\(index))"
    }

    // MARK: Recording helpers

    /// Records a one-operand operation on `x` (which must be tracked).
    @inlinable @inline(__always)
    static func _unary(_ op: _TapeOp, _ x: Tracked, _ c: Double, _ t: UnsafeMutablePointer<_TapeStorage>) -> Tracked {
        let r = _TapeFormulas.unary(op, x.value, c)
        return Tracked(value: r.value, index: t.pointee.push(op, x.index, 0, r.d, 0, c, r.value), tape: t)
    }

    /// A one-operand function: recorded when `x` is tracked, a constant otherwise.
    @inlinable @inline(__always)
    static func _apply(_ op: _TapeOp, _ x: Tracked, _ c: Double = 0) -> Tracked {
        if let t = x.tape { return _unary(op, x, c, t) }
        return Tracked(constant: _TapeFormulas.unary(op, x.value, c).value)
    }

    /// A two-operand operation: `both` when both are tracked, `left(a, c = b)` when only `a` is,
    /// `right(b, c = a)` when only `b` is.
    @inlinable @inline(__always)
    static func _binary(
        _ both: _TapeOp, _ a: Tracked, _ b: Tracked,
        left: _TapeOp, leftConstant: Double, right: _TapeOp, rightConstant: Double
    ) -> Tracked {
        if let t = a.tape {
            if let tb = b.tape {
                // Operands from two tapes used to be recorded on `a`'s with `b`'s slot index,
                // which names an unrelated slot there: its adjoint silently received `b`'s.
                precondition(tb == t, "Tracked: operands recorded on different tapes (use one tape per computation)")
                let r = _TapeFormulas.binary(both, a.value, b.value)
                return Tracked(value: r.value, index: t.pointee.push(both, a.index, b.index, r.da, r.db, 0, r.value), tape: t)
            }
            return _unary(left, a, leftConstant, t)
        }
        if let t = b.tape { return _unary(right, b, rightConstant, t) }
        return Tracked(constant: _TapeFormulas.binary(both, a.value, b.value).value)
    }

    /// Records a comparison made on tracked values (constants' comparisons cannot change).
    @inlinable @inline(__always)
    static func _compare(_ a: Tracked, _ b: Tracked, equality: Bool) -> Bool {
        let outcome = equality ? a.value == b.value : a.value < b.value
        if let t = a.tape ?? b.tape {
            precondition(a.tape == nil || b.tape == nil || a.tape == b.tape,
                "Tracked: comparison of values recorded on different tapes")
            t.pointee.comparisons.append(
                _TapeComparison(
                    lhs: a.tape == nil ? -1 : a.index, rhs: b.tape == nil ? -1 : b.index,
                    isEquality: equality, outcome: outcome, lhsConstant: a.value, rhsConstant: b.value))
        }
        return outcome
    }

    // MARK: Equality and order: by value, recorded.

    @inlinable public static func == (a: Tracked, b: Tracked) -> Bool { _compare(a, b, equality: true) }
    @inlinable public static func < (a: Tracked, b: Tracked) -> Bool { _compare(a, b, equality: false) }

    // MARK: Arithmetic

    @inlinable @inline(__always)
    public static func + (a: Tracked, b: Tracked) -> Tracked {
        _binary(.add, a, b, left: .addConst, leftConstant: b.value, right: .addConst, rightConstant: a.value)
    }

    @inlinable @inline(__always)
    public static func - (a: Tracked, b: Tracked) -> Tracked {
        _binary(.sub, a, b, left: .addConst, leftConstant: -b.value, right: .constSub, rightConstant: a.value)
    }

    @inlinable @inline(__always)
    public static func * (a: Tracked, b: Tracked) -> Tracked {
        _binary(.mul, a, b, left: .mulConst, leftConstant: b.value, right: .mulConst, rightConstant: a.value)
    }

    @inlinable @inline(__always)
    public static func / (a: Tracked, b: Tracked) -> Tracked {
        _binary(.div, a, b, left: .divConst, leftConstant: b.value, right: .constDiv, rightConstant: a.value)
    }

    @inlinable @inline(__always)
    public static prefix func - (a: Tracked) -> Tracked { _apply(.neg, a) }

    @inlinable @inline(__always) public static func += (a: inout Tracked, b: Tracked) { a = a + b }
    @inlinable @inline(__always) public static func -= (a: inout Tracked, b: Tracked) { a = a - b }
    @inlinable @inline(__always) public static func *= (a: inout Tracked, b: Tracked) { a = a * b }
    @inlinable @inline(__always) public static func /= (a: inout Tracked, b: Tracked) { a = a / b }

    @inlinable @inline(__always)
    public func scaled(by factor: Double) -> Tracked { Tracked._apply(.mulConst, self, factor) }

    // MARK: Elementary functions (derivatives: Abramowitz & Stegun, ch. 4; formulas in _TapeFormulas)

    @inlinable public static func exp(_ x: Tracked) -> Tracked { _apply(.exp, x) }
    @inlinable public static func expm1(_ x: Tracked) -> Tracked { _apply(.expm1, x) }
    @inlinable public static func log(_ x: Tracked) -> Tracked { _apply(.log, x) }
    @inlinable public static func log1p(_ x: Tracked) -> Tracked { _apply(.log1p, x) }
    @inlinable public static func sin(_ x: Tracked) -> Tracked { _apply(.sin, x) }
    @inlinable public static func cos(_ x: Tracked) -> Tracked { _apply(.cos, x) }
    @inlinable public static func tan(_ x: Tracked) -> Tracked { _apply(.tan, x) }
    @inlinable public static func asin(_ x: Tracked) -> Tracked { _apply(.asin, x) }
    @inlinable public static func acos(_ x: Tracked) -> Tracked { _apply(.acos, x) }
    @inlinable public static func atan(_ x: Tracked) -> Tracked { _apply(.atan, x) }
    @inlinable public static func sinh(_ x: Tracked) -> Tracked { _apply(.sinh, x) }
    @inlinable public static func cosh(_ x: Tracked) -> Tracked { _apply(.cosh, x) }
    @inlinable public static func tanh(_ x: Tracked) -> Tracked { _apply(.tanh, x) }
    @inlinable public static func sqrt(_ x: Tracked) -> Tracked { _apply(.sqrt, x) }
    @inlinable public static func abs(_ x: Tracked) -> Tracked { _apply(.abs, x) }

    /// `x^n`; `x^0` is the constant 1, as for ``Dual``.
    @inlinable public static func pow(_ x: Tracked, _ n: Int) -> Tracked {
        if n == 0 { return Tracked(constant: 1) }
        return _apply(.powInt, x, Double(n))
    }

    @inlinable public static func pow(_ x: Tracked, _ y: Tracked) -> Tracked {
        _binary(.pow, x, y, left: .powConst, leftConstant: y.value, right: .constPow, rightConstant: x.value)
    }
}
