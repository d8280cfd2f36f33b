
      export type PossibleTypesResultData = {
  "possibleTypes": {
    "ConflictRoomEvent": [
      "FieldCleared",
      "FieldSelected",
      "ParticipantJoined",
      "ParticipantLeft",
      "PresenceChanged",
      "ReadinessChanged",
      "RoomResolved",
      "RoomSnapshot"
    ]
  }
};
      const result: PossibleTypesResultData = {
  "possibleTypes": {
    "ConflictRoomEvent": [
      "FieldCleared",
      "FieldSelected",
      "ParticipantJoined",
      "ParticipantLeft",
      "PresenceChanged",
      "ReadinessChanged",
      "RoomResolved",
      "RoomSnapshot"
    ]
  }
};
      export default result;
    